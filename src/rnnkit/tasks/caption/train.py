"""Train a captioner into a run directory: ``train(config, options) -> metrics``."""

from __future__ import annotations

from typing import Any

import torch

from rnnkit.data import load_tokenizer
from rnnkit.models import optimizers
from rnnkit.tasks import runs
from rnnkit.tasks.caption.config import CaptionConfig
from rnnkit.tasks.caption.data import (
    CAPTIONS_FILE,
    CaptionBatches,
    CaptionData,
    encode_captions,
    load_caption_data,
    make_tokenizer,
)
from rnnkit.tasks.caption.model import Captioner, SlotCaptioner

TASK = "caption"


def build_model(config: CaptionConfig, vocab_size: int, data: CaptionData, slots: int) -> Any:
    """The network ``config.model`` names, sized for the data's images."""
    common: dict[str, Any] = {
        "channels": data.channels,
        "image_size": list(data.image_size),
        "conv_widths": config.conv_widths,
    }
    if config.model == "slots":
        return SlotCaptioner(vocab_size, slots, units=config.units, dropout=config.dropout, **common)
    return Captioner(
        vocab_size,
        cell=config.cell,
        units=config.units,
        embedding_dim=config.embedding_dim,
        attention_units=config.attention_units,
        attention=config.model == "attention",
        dropout=config.dropout,
        attention_penalty=config.attention_penalty,
        **common,
    )


def _fingerprint(source: str) -> dict[str, str]:
    from pathlib import Path

    table = Path(source) / CAPTIONS_FILE
    if table.is_file():  # a folder of one's own: its captions file identifies it
        return {**runs.fingerprint(table), "source": source}
    return runs.fingerprint(source)


def train(config: CaptionConfig, options: runs.TrainOptions) -> dict[str, Any]:
    """Train into ``options.out``; returns the metrics written to metrics.json."""
    from rnnkit.tasks.caption.predictor import CaptionPredictor

    torch.manual_seed(config.seed)
    options.apply_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    data = load_caption_data(config)
    run = runs.start_run(options, TASK, config, data=_fingerprint(config.data))
    tok_path = run.file(runs.TOKENIZER_FILE)
    # Resuming keeps the tokenizer the checkpoint's embedding rows were trained with.
    tok = load_tokenizer(tok_path) if run.resuming and tok_path.exists() else None
    if tok is None:
        tok = make_tokenizer(data.train.captions)
        if run.is_writer:
            tok.save(tok_path)
    train_tokens = encode_captions(tok, data.train.captions)
    val_tokens = encode_captions(tok, data.validation.captions)
    slots = max(train_tokens.shape[1], val_tokens.shape[1]) - 2  # the longest caption, in words
    train_batches = CaptionBatches(
        data.train.images,
        train_tokens,
        config.batch_size,
        shuffle=True,
        seed=config.seed,
        max_steps=config.max_steps,
    )
    val = CaptionBatches(data.validation.images, val_tokens, 128, shuffle=False)
    model = build_model(config, tok.vocab_size, data, slots)
    model.compile(optimizer=optimizers.Adam(learning_rate=config.learning_rate, clipnorm=config.clipnorm))
    start, seconds = runs.fit_in_run(model, run, train_batches, val, epochs=config.epochs)
    if run.is_writer:
        model.save(run.model_path)
    predictor = CaptionPredictor(model, tok, config, kind=data.kind)
    n = config.eval_samples
    metrics: dict[str, Any] = {
        "task": TASK,
        "data": data.source,
        "kind": data.kind,
        "model": config.model,
        "samples": {"train": len(data.train), "validation": len(data.validation), "test": len(data.test)},
        "epochs": config.epochs,
        "resumed_from_epoch": start,
        "train_seconds_this_session": round(seconds, 1),
        "parameters": model.count_params(),
        "beam": config.beam,
        "validation": predictor.score(data.validation.head(n), beam=config.beam),
        "test": predictor.score(data.test.per_subset(n), beam=config.beam),
    }
    run.write_json(runs.METRICS_FILE, metrics)
    return metrics
