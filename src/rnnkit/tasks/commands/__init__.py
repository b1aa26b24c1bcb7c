"""Voice commands (keyword spotting): ten command words plus unknown and silence, from any WAV.

``rnnkit train commands --data spoken_words --out runs/kws`` then ``rnnkit recognize runs/kws
clip.wav``. Shares the audio front end and the recurrent encoder with :mod:`rnnkit.tasks.speech`.
Every public name is importable from here; torch loads only when one is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CommandsConfig": "config",
    "load_commands": "data",
    "CommandClassifier": "model",
    "train_commands": "train",
    "plot_confusion": "train",
    "CommandRecognizer": "predictor",
    "Recognition": "predictor",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
