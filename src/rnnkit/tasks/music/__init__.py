"""Music generation: Bach chorales as a melody LM and a four-voice model (compose, harmonise).

    rnnkit train music --data chorales --out runs/bach [--voices 1|4]
    rnnkit compose runs/bach --bars 16 --temperature 0.9 --seed 0 --out piece.mid [--wav piece.wav]
    rnnkit harmonize runs/bach4 melody.mid --out chorale.mid

Light on purpose (no torch at import): the parts are in ``config``, ``data``, ``model``,
``sampling``, ``midi``, ``baselines``, ``train``, ``predictor``, ``cli`` and ``api``.
"""

from rnnkit.tasks.music.config import MusicConfig
from rnnkit.tasks.music.theory import Key, Piece, musical_checks

__all__ = ["Key", "MusicConfig", "Piece", "musical_checks"]
