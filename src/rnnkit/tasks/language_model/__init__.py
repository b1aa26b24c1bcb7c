"""Word- and character-level recurrent language models: training, suggestions, generation.

One role per file: ``config`` (LMConfig, no torch), ``data`` (corpus, TBPTT chunks), ``model``
(RecurrentLM, perplexity), ``train`` (``train(config, options)``), ``predictor``
(LanguageModel: keystroke Sessions, suggest, generate), ``cli`` (``rnnkit suggest``,
``rnnkit generate``), ``api`` (the server's routes). Every public name is importable
from here; torch is imported when a torch-backed name is first used.
"""

from __future__ import annotations

from rnnkit.utils.lazy import lazy_exports

_EXPORTS = {
    "LMConfig": "config",
    "TASK": "config",
    "LEVELS": "config",
    "LM_OPTIMIZERS": "config",
    "BUILTIN_CORPORA": "config",
    "Corpus": "data",
    "load_corpus": "data",
    "tbptt_data": "data",
    "LM_CELLS": "model",
    "RecurrentLM": "model",
    "build_model": "model",
    "perplexity": "model",
    "train_lm": "train",
    "Suggestion": "predictor",
    "Session": "predictor",
    "LanguageModel": "predictor",
    "check_top_k": "predictor",
    "check_sampling": "predictor",
}
__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
