"""Utilities. Keras's data helpers live here at Keras's paths: ``rnnkit.utils.to_categorical``,
``rnnkit.utils.pad_sequences``, ``rnnkit.utils.timeseries_dataset_from_array`` (imported on
first use, PEP 562, so ``rnnkit.utils.io`` and friends stay light)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rnnkit.utils.keras_utils import pad_sequences, timeseries_dataset_from_array, to_categorical

__all__ = ["pad_sequences", "timeseries_dataset_from_array", "to_categorical"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'rnnkit.utils' has no attribute {name!r}")
    value = getattr(importlib.import_module("rnnkit.utils.keras_utils"), name)
    globals()[name] = value
    return value
