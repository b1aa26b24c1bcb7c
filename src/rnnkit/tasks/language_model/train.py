"""Train a language model into a run directory: ``train(config, options) -> metrics``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from rnnkit.data import load_tokenizer
from rnnkit.models import optimizers
from rnnkit.models.callbacks import Callback, ReduceLROnPlateau
from rnnkit.models.losses import SparseCategoricalCrossentropy
from rnnkit.tasks import runs
from rnnkit.tasks.language_model.config import TASK, LMConfig
from rnnkit.tasks.language_model.data import _Capped, load_corpus, tbptt_data
from rnnkit.tasks.language_model.model import build_model, perplexity


def _optimizer(config: LMConfig) -> optimizers.Optimizer:
    if config.optimizer == "sgd":
        # Plain SGD with the gradient's global norm clipped (torch.nn.utils.clip_grad_norm_).
        return optimizers.SGD(learning_rate=config.learning_rate, global_clipnorm=config.clipnorm)
    return optimizers.Adam(learning_rate=config.learning_rate, clipnorm=config.clipnorm)


def train(config: LMConfig, options: runs.TrainOptions) -> dict[str, Any]:
    """Train an LM into ``options.out``; returns the metrics written to metrics.json."""
    torch.manual_seed(config.seed)
    options.apply_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    run = runs.start_run(options, TASK, config, data=runs.fingerprint(config.data))
    tok_path = run.file(runs.TOKENIZER_FILE)
    # Resuming keeps the tokenizer the checkpoint's embedding rows were trained with.
    resuming = run.resuming and tok_path.exists()
    corpus = load_corpus(config, load_tokenizer(tok_path) if resuming else None)
    if run.is_writer:
        corpus.tokenizer.save(tok_path)
    train_chunks = _Capped(tbptt_data(corpus.train, config.batch_size, config.bptt), config.max_steps)
    n_streams = train_chunks.data.x.shape[0]
    # Validation uses the training batch size: the stateful layers keep their batch dimension.
    val = _Capped(tbptt_data(corpus.validation, n_streams, config.bptt), config.max_steps)
    if val.data.x.shape[0] != n_streams:
        val = None  # type: ignore[assignment]  # corpus too small for as many streams
    model = build_model(config, corpus.tokenizer.vocab_size)
    model.compile(optimizer=_optimizer(config), loss=SparseCategoricalCrossentropy(from_logits=True))
    decay: list[Callback] = []
    if config.lr_decay is not None and val is not None:
        # PyTorch's example divides lr by 4 whenever validation loss stops improving.
        decay.append(ReduceLROnPlateau(monitor="val_loss", factor=config.lr_decay, patience=0, min_delta=0.0))
    start, seconds = runs.fit_in_run(model, run, train_chunks, val, epochs=config.epochs, callbacks=decay)
    model.forget_states()
    if run.is_writer:
        model.save(run.model_path)
    t0 = time.perf_counter()
    val_m = perplexity(model, corpus.validation)
    test_m = perplexity(model, corpus.test)
    metrics = {
        "task": TASK,
        "data": corpus.source,
        "level": config.level,
        "vocab_size": corpus.tokenizer.vocab_size,
        "tokens": {
            "train": len(corpus.train),
            "validation": len(corpus.validation),
            "test": len(corpus.test),
        },
        "epochs": config.epochs,
        "resumed_from_epoch": start,
        "train_seconds_this_session": round(seconds, 1),
        "eval_seconds": round(time.perf_counter() - t0, 1),
        "parameters": model.count_params(),
        **{f"validation_{k}": v for k, v in val_m.items()},
        **{f"test_{k}": v for k, v in test_m.items()},
    }
    run.write_json(runs.METRICS_FILE, metrics)
    return metrics


def train_lm(
    config: LMConfig, out: str | Path, *, resume: bool | None = None, verbose: int = 0
) -> dict[str, Any]:
    """The earlier signature: ``train`` with ``TrainOptions(out, resume=..., quiet=not verbose)``."""
    return train(config, runs.TrainOptions(Path(out), resume=resume, quiet=not verbose))
