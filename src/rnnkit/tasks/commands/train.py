"""Training the keyword spotter, and its accuracy and confusion matrix on unseen voices."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit import losses, optimizers
from rnnkit.tasks import runs
from rnnkit.tasks.audio.config import encoder_kwargs
from rnnkit.tasks.audio.frontend import (
    CappedBatches,
    FeatureBatches,
    FrontEnd,
    default_augment,
    pad_frames,
    pad_with_silence,
)
from rnnkit.tasks.audio.training import earlier_seconds

from .config import CommandsConfig
from .data import CommandSplits, load_commands
from .model import CommandClassifier

TASK = "commands"
COMMANDS_FILE = "commands.json"  # the front end and class names a run needs beside its weights
CONFUSION_FILE = "confusion-test.png"


@dataclass
class Prepared:
    config: CommandsConfig
    frontend: FrontEnd
    splits: CommandSplits
    frames: dict[str, list[torch.Tensor]]
    model: CommandClassifier
    train_batches: FeatureBatches
    val_batches: FeatureBatches


def prepare(config: CommandsConfig) -> Prepared:
    """Load the words, unknown and silence clips, featurise them, build and compile the model."""
    torch.manual_seed(config.seed)
    frontend = FrontEnd(n_mels=config.n_mels, max_seconds=config.max_seconds)
    splits = load_commands(config.data, unknown=config.unknown, with_silence=config.silence)
    if config.max_samples is not None:  # smoke runs: a seeded sample of each split
        splits = splits.subsample(config.max_samples, config.seed)
    waves = dict(splits.waves)
    if config.pad_silence:  # training clips only (see speech.frontend.pad_with_silence)
        waves["train"] = pad_with_silence(
            waves["train"], config.pad_silence, frontend.sample_rate, config.seed
        )
    frames = {s: [frontend.features(w) for w in ws] for s, ws in waves.items()}
    model = CommandClassifier(config.n_mels, len(splits.classes), **encoder_kwargs(config))
    model.compile(
        optimizer=optimizers.Adam(learning_rate=config.learning_rate, global_clipnorm=config.clipnorm),
        loss=losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        device="cpu",
    )
    augment = default_augment() if config.spec_augment else None
    train = FeatureBatches(
        frames["train"],
        splits.labels["train"],
        config.batch_size,
        shuffle=True,
        augment=augment,
        seed=config.seed,
    )
    val = FeatureBatches(frames["validation"], splits.labels["validation"], config.batch_size)
    return Prepared(config, frontend, splits, frames, model, train, val)


def train(config: CommandsConfig, options: runs.TrainOptions) -> dict[str, Any]:
    """Train a keyword spotter into ``options.out``; metrics and the test confusion matrix PNG."""
    options.apply_threads()
    p = prepare(config)
    run = runs.start_run(options, TASK, config, data=runs.fingerprint(config.data))
    run.write_json(COMMANDS_FILE, {"frontend": p.frontend.to_dict(), "classes": p.splits.classes})
    batches: Any = (
        p.train_batches if config.max_steps is None else CappedBatches(p.train_batches, config.max_steps)
    )
    start, seconds = runs.fit_in_run(p.model, run, batches, p.val_batches, epochs=config.epochs)
    if run.is_writer:
        p.model.save(run.model_path)
    n = len(p.splits.classes)
    val_acc, _ = accuracy_and_confusion(p.model, p.frames["validation"], p.splits.labels["validation"], n)
    test_acc, cm = accuracy_and_confusion(p.model, p.frames["test"], p.splits.labels["test"], n)
    if run.is_writer:
        title = f"{config.data} test voices (unseen): accuracy {100 * test_acc:.1f}%"
        plot_confusion(cm, p.splits.classes, run.file(CONFUSION_FILE), title)
    metrics = {
        "task": TASK,
        "data": config.data,
        "classes": p.splits.classes,
        "samples": p.splits.sizes(),
        "epochs": config.epochs,
        "resumed_from_epoch": start,
        "train_seconds_this_session": round(seconds, 1),
        "train_seconds_total": round(seconds + earlier_seconds(run, start), 1),
        "parameters": p.model.count_params(),
        "validation_accuracy": round(val_acc, 5),
        "test_accuracy": round(test_acc, 5),
        "test_confusion": cm.tolist(),
    }
    run.write_json(runs.METRICS_FILE, metrics)
    return metrics


@torch.no_grad()
def predict_classes(model: CommandClassifier, frames: list[torch.Tensor], batch_size: int = 64) -> np.ndarray:
    """(N, K) class probabilities, in the order given."""
    model.eval()
    out = []
    for s in range(0, len(frames), batch_size):
        x, lengths = pad_frames(frames[s : s + batch_size])
        out.append(torch.softmax(model(x, lengths), dim=-1).numpy())
    return np.concatenate(out)


def accuracy_and_confusion(
    model: CommandClassifier, frames: list[torch.Tensor], labels: list[int], n_classes: int
) -> tuple[float, np.ndarray]:
    """Accuracy and the (true, predicted) count matrix (sklearn's convention: rows are truth)."""
    pred = predict_classes(model, frames).argmax(1)
    truth = np.asarray(labels)
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (truth, pred), 1)
    return float((pred == truth).mean()), cm


def plot_confusion(cm: np.ndarray, classes: list[str], path: str | os.PathLike[str], title: str) -> Path:
    """The confusion matrix as a PNG (counts in the cells, rows = truth), written atomically."""
    from rnnkit.models.plotting import new_figure, save_png

    fig = new_figure(7, 6)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("spoken")
    ax.set_title(title)
    top = cm.max() or 1
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    str(cm[i, j]),
                    ha="center",
                    va="center",
                    color="white" if cm[i, j] > top / 2 else "black",
                )
    return save_png(fig, path)


train_commands = train  # the package-level name (``rnnkit.tasks.commands.train`` is this module)
