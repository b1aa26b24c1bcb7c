"""Sentiment analysis: text -> one of two or more classes, with probabilities.

One role per file: ``config`` (SentimentConfig, no torch), ``data`` (datasets, tokenizing,
bucketed batches), ``model`` (SentimentNet), ``train`` (``train(config, options)`` into a run
directory), ``predictor`` (SentimentClassifier), ``cli`` (``rnnkit predict``), ``api`` (the
server's routes). Every public name is importable from here; importing this package
loads torch only when one of the torch-backed names is first used.
"""

from __future__ import annotations

from typing import Any

from rnnkit.utils.lazy import lazy_exports

_EXPORTS = {
    "SentimentConfig": "config",
    "CELLS": "config",
    "POOLINGS": "config",
    "BUILTIN_DATA": "config",
    "BucketedBatches": "data",
    "TextSplits": "data",
    "load_sentiment_data": "data",
    "split_table": "data",
    "take": "data",
    "make_tokenizer": "data",
    "encode_texts": "data",
    "CELL_LAYERS": "model",
    "SentimentNet": "model",
    "build_model": "model",
    "train_sentiment": "train",
    "TASK": "predictor",
    "Prediction": "predictor",
    "SentimentClassifier": "predictor",
    "macro_f1": "predictor",
}
__all__ = [*_EXPORTS, "load_preset"]


def load_preset(path: Any, cls: Any, overrides: dict[str, Any] | None = None) -> Any:
    """``cls.from_toml(path, overrides)`` (the earlier name)."""
    return cls.from_toml(path, overrides)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
