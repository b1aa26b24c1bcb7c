"""Train a sentiment classifier into a run directory: ``train(config, options) -> metrics``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from rnnkit.data import load_tokenizer
from rnnkit.models import optimizers
from rnnkit.models.callbacks import EarlyStopping
from rnnkit.models.losses import SparseCategoricalCrossentropy
from rnnkit.tasks import runs
from rnnkit.tasks.sentiment.config import SentimentConfig
from rnnkit.tasks.sentiment.data import BucketedBatches, encode_texts, load_sentiment_data, make_tokenizer
from rnnkit.tasks.sentiment.model import build_model
from rnnkit.tasks.sentiment.predictor import TASK, SentimentClassifier


def train(config: SentimentConfig, options: runs.TrainOptions) -> dict[str, Any]:
    """Train a classifier into ``options.out``; returns the metrics written to metrics.json."""
    torch.manual_seed(config.seed)
    options.apply_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    data = load_sentiment_data(config)
    run = runs.start_run(options, TASK, config, data=runs.fingerprint(config.data))
    tok_path = run.file(runs.TOKENIZER_FILE)
    # Resuming keeps the tokenizer the checkpoint's embedding rows were trained with.
    tok = load_tokenizer(tok_path) if run.resuming and tok_path.exists() else None
    if tok is None:
        tok = make_tokenizer(data.train.texts, config.max_vocab)
        if run.is_writer:
            tok.save(tok_path)
    enc = {
        name: encode_texts(tok, getattr(data, name).texts, config.maxlen)
        for name in ("train", "validation", "test")
    }
    train_batches = BucketedBatches(
        enc["train"],
        data.train.labels,
        config.batch_size,
        shuffle=True,
        trim=True,
        seed=config.seed,
        max_steps=config.max_steps,
    )
    val = BucketedBatches(enc["validation"], data.validation.labels, 64, shuffle=False, trim=False)
    model = build_model(config, tok.vocab_size, len(data.classes))
    model.compile(
        optimizer=optimizers.Adam(learning_rate=config.learning_rate, clipnorm=config.clipnorm),
        loss=SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    # Keep the epoch with the best validation accuracy: BiLSTMs overfit IMDB after 3-4 epochs.
    best = EarlyStopping(monitor="val_accuracy", mode="max", patience=2, restore_best_weights=True)
    start, seconds = runs.fit_in_run(model, run, train_batches, val, epochs=config.epochs, callbacks=[best])
    if run.is_writer:
        model.save(run.model_path)
    clf = SentimentClassifier(model, tok, data.classes, config)
    test = clf.evaluate(data.test.texts, data.test.labels)
    metrics = {
        "task": TASK,
        "data": data.source,
        "classes": data.classes,
        "samples": {"train": len(data.train), "validation": len(data.validation), "test": len(data.test)},
        "epochs": config.epochs,
        "resumed_from_epoch": start,
        "train_seconds_this_session": round(seconds, 1),
        "kernels": sorted(
            {str(getattr(r, "last_kernel", "")) for r in model.modules() if hasattr(r, "last_kernel")} - {""}
        ),
        "parameters": model.count_params(),
        **{f"test_{k}": v for k, v in test.items()},
    }
    run.write_json(runs.METRICS_FILE, metrics)
    return metrics


def train_sentiment(
    config: SentimentConfig, out: str | Path, *, resume: bool | None = None, verbose: int = 0
) -> dict[str, Any]:
    """The earlier signature: ``train`` with ``TrainOptions(out, resume=..., quiet=not verbose)``."""
    return train(config, runs.TrainOptions(Path(out), resume=resume, quiet=not verbose))
