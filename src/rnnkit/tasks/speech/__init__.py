"""Speech-to-text: a (Bi)LSTM/GRU acoustic model trained with CTC, greedy and prefix beam decoding.

``rnnkit train speech --data spoken_digit_strings --out runs/asr`` then
``rnnkit transcribe runs/asr clip.wav --beam 8``. Light on import (no torch): the pieces live in
``config`` (settings), ``frontend`` (any WAV -> log-mel frames, shared with ``commands``),
``model`` (encoder + CTC), ``decoding`` (greedy, prefix beam search, word LM), ``evaluate``
(WER/CER), ``train`` and ``predictor``.
"""
