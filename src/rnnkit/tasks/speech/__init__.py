"""Speech-to-text: a (Bi)LSTM/GRU acoustic model trained with CTC, greedy and prefix beam decoding.

``rnnkit train speech --data spoken_digit_strings --out runs/asr`` then
``rnnkit transcribe runs/asr clip.wav --beam 8``. One role per file: ``config`` (settings, no
torch), ``data``, ``model`` (the shared encoder of :mod:`rnnkit.tasks.audio` + CTC),
``decoding`` (greedy, prefix beam search, word LM), ``evaluate`` (WER/CER), ``train``,
``predictor``, ``cli``, ``api``. Every public name is importable from here; torch
loads only when one is first used.
"""

from __future__ import annotations

from rnnkit.utils.lazy import lazy_exports

_EXPORTS = {
    "SpeechConfig": "config",
    "SpeechRecognizer": "model",
    "Alphabet": "decoding",
    "WordLM": "decoding",
    "greedy_decode": "decoding",
    "prefix_beam_search": "decoding",
    "Decoder": "evaluate",
    "error_rates": "evaluate",
    "load_speech": "data",
    "train_speech": "train",
    "Transcriber": "predictor",
    "Transcript": "predictor",
}
__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
