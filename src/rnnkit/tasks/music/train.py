"""Train a music model into a run directory: ``train(config, options) -> metrics``.

The metrics hold the model's NLL on the validation and test splits (per note for the
melody, per grid step and per voice for four voices) beside n-gram baselines computed on
the same split, and how many test chorales share a tune with training ones (0 on the
tune split).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import torch

from rnnkit import datasets
from rnnkit.datasets.chorales import shared_tunes
from rnnkit.models import optimizers
from rnnkit.models.callbacks import Callback, EarlyStopping, ReduceLROnPlateau
from rnnkit.tasks import runs
from rnnkit.tasks.music.baselines import grid_baselines, melody_baselines, model_nll
from rnnkit.tasks.music.config import TASK, MusicConfig
from rnnkit.tasks.music.data import PieceBatches
from rnnkit.tasks.music.model import ChoraleLM, MelodyLM
from rnnkit.tasks.music.theory import Piece, piece_from_chorale


def build_model(config: MusicConfig) -> MelodyLM | ChoraleLM:
    cls = MelodyLM if config.voices == 1 else ChoraleLM
    return cls(
        units=config.units,
        num_layers=config.num_layers,
        embed=config.embed_dim,
        cell=config.cell,
        dropout=config.dropout,
    )


def load_pieces(config: MusicConfig) -> tuple[dict[str, list[Piece]], Any]:
    """The dataset's splits as Pieces (train capped at ``max_pieces``), and the dataset."""
    ds = datasets.load(config.dataset)
    splits = {
        name: [piece_from_chorale(c) for c in ds.chorales[name]] for name in ("train", "validation", "test")
    }
    if config.max_pieces is not None:
        splits["train"] = splits["train"][: config.max_pieces]
    return splits, ds


class _Capped:
    """At most ``max_steps`` batches of an iterable per pass (quick runs)."""

    def __init__(self, data: PieceBatches, max_steps: int | None) -> None:
        self.data, self.max_steps = data, max_steps

    def __len__(self) -> int:
        return len(self.data) if self.max_steps is None else min(len(self.data), self.max_steps)

    def __iter__(self) -> Iterator[Any]:
        for i, batch in enumerate(self.data):
            if self.max_steps is not None and i >= self.max_steps:
                return
            yield batch


class TimeLimit(Callback):
    """Stop at the first epoch end after ``minutes`` of training (in this session)."""

    def __init__(self, minutes: float) -> None:
        super().__init__()
        self.seconds = minutes * 60.0
        self.t0 = time.perf_counter()

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if time.perf_counter() - self.t0 >= self.seconds:
            self.model.stop_training = True


def train(config: MusicConfig, options: runs.TrainOptions) -> dict[str, Any]:
    """Train the melody (voices=1) or four-voice model into ``options.out``; returns the metrics."""
    torch.manual_seed(config.seed)
    options.apply_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    run = runs.start_run(options, TASK, config, data=runs.fingerprint(config.dataset))
    splits, ds = load_pieces(config)
    train_b = _Capped(
        PieceBatches(
            splits["train"], config.voices, config.batch_size, augment=config.augment, seed=config.seed
        ),
        config.max_steps,
    )
    val_b = _Capped(PieceBatches(splits["validation"], config.voices, config.batch_size), config.max_steps)
    model = build_model(config)
    model.compile(optimizer=optimizers.Adam(learning_rate=config.learning_rate, clipnorm=config.clipnorm))
    callbacks: list[Any] = []
    if config.lr_decay is not None:
        callbacks.append(
            ReduceLROnPlateau(
                monitor="val_loss", factor=config.lr_decay, patience=config.lr_patience, min_delta=0.0
            )
        )
    if config.minutes is not None:
        callbacks.append(TimeLimit(config.minutes))
    if config.patience:
        callbacks.append(
            EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)
        )
    start, seconds = runs.fit_in_run(model, run, train_b, val_b, epochs=config.epochs, callbacks=callbacks)
    if run.is_writer:
        model.save(run.model_path)
    t0 = time.perf_counter()
    baselines = melody_baselines(splits) if config.voices == 1 else grid_baselines(splits)
    metrics = {
        "task": TASK,
        "data": config.dataset,
        "voices": config.voices,
        "pieces": {name: len(p) for name, p in splits.items()},
        # Test chorales that sing a tune some training chorale sings (0 on the tune split).
        "test_tunes_seen_in_train": shared_tunes(ds.chorales["train"], ds.chorales["test"]),
        "epochs": config.epochs,
        "resumed_from_epoch": start,
        "train_seconds_this_session": round(seconds, 1),
        "parameters": model.count_params(),
        "validation": model_nll(model, splits["validation"], config.voices),
        "test": model_nll(model, splits["test"], config.voices),
        "baselines_test": baselines,
    }
    metrics["eval_seconds"] = round(time.perf_counter() - t0, 1)
    run.write_json(runs.METRICS_FILE, metrics)
    return metrics
