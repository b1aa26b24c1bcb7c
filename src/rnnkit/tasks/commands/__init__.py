"""Voice commands (keyword spotting): ten command words plus unknown and silence, from any WAV.

``rnnkit train commands --data spoken_words --out runs/kws`` then ``rnnkit recognize runs/kws
clip.wav``. Shares the audio front end and the recurrent encoder with :mod:`rnnkit.tasks.speech`.
Every public name is importable from here; torch loads only when one is first used.
"""

from __future__ import annotations

from rnnkit.utils.lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
