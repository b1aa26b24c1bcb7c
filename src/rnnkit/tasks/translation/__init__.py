"""Machine translation (English -> Spanish by default): seq2seq with attention and beam search.

One role per file: ``config`` (TranslationConfig, no torch), ``data`` (pairs, subword
tokenizers, teacher-forcing batches), ``model`` (Seq2Seq), ``train`` (``train(config, options)``
into a run directory), ``predictor`` (Translator: translate, score, evaluate), ``baselines``
(Apertium), ``cli`` (``rnnkit translate``), ``api`` (the server's routes). Every public name is
importable from here; torch loads only when a torch-backed name is first used.
"""

from __future__ import annotations

from rnnkit.utils.lazy import lazy_exports

_EXPORTS = {
    "TranslationConfig": "config",
    "ATTENTIONS": "config",
    "CELLS": "config",
    "BUILTIN_DATA": "config",
    "PairSplits": "data",
    "PairBatches": "data",
    "load_pairs": "data",
    "read_pairs": "data",
    "split_pairs": "data",
    "make_tokenizers": "data",
    "encode_pairs": "data",
    "Seq2Seq": "model",
    "build_model": "model",
    "train_on": "train",
    "TASK": "predictor",
    "Translation": "predictor",
    "Translator": "predictor",
    "sacrebleu_scores": "predictor",
    "apertium_translate": "baselines",
}
__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
