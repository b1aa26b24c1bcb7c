"""A trained music run: compose pieces, harmonise a melody, score a split.

music = MusicModel.load("runs/bach")
piece = music.compose(bars=16, key="G major", meter="4/4", sampling=Sampling(0.9, seed=0))[0]
chorale = music.harmonize(read_melody("melody.mid"))
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from rnnkit.errors import ConfigError
from rnnkit.tasks import runs
from rnnkit.tasks.music.baselines import model_nll
from rnnkit.tasks.music.config import TASK, MusicConfig
from rnnkit.tasks.music.data import encode_grid, encode_melody, grid_batch, melody_batch
from rnnkit.tasks.music.model import ChoraleLM, MelodyLM
from rnnkit.tasks.music.sampling import Sampling, compose_chorales, compose_melodies
from rnnkit.tasks.music.theory import Key, Piece, bar_length, check_range
from rnnkit.tasks.music.train import build_model, load_pieces

logger = logging.getLogger(__name__)


def _build(model: MelodyLM | ChoraleLM, voices: int) -> None:
    """Create the lazily built weights with one tiny batch, so saved weights can be loaded."""
    one = Piece([[(60, 1.0)]] * voices)
    x, _ = melody_batch([encode_melody(one)]) if voices == 1 else grid_batch([encode_grid(one)])
    with torch.no_grad():
        model.eval()(*x)


class MusicModel:
    """A melody model (``voices == 1``) or a four-voice model (``voices == 4``) and its config."""

    def __init__(self, model: MelodyLM | ChoraleLM, config: MusicConfig, path: Path | None = None) -> None:
        self.model, self.config, self.path = model, config, path
        self.model.eval()

    @property
    def voices(self) -> int:
        return self.config.voices

    @classmethod
    def load(cls, path: str | Path) -> MusicModel:
        """The model of a ``rnnkit train music`` run directory (another task's run is refused)."""
        run = runs.open_trained_run(path, TASK)
        config = MusicConfig.from_dict(run.config, source=str(run.file(runs.RUN_FILE)))
        model = build_model(config)
        _build(model, config.voices)
        model.load_weights(run.model_path)
        return cls(model, config, run.path)

    def compose(
        self,
        *,
        bars: int = 16,
        key: str | Key = "C major",
        meter: str = "4/4",
        sampling: Sampling | None = None,
        n: int = 1,
        pickup: float = 0.0,
    ) -> list[Piece]:
        """``n`` new pieces of ``bars`` bars (melodies or four voices, as the run was trained).

        ``pickup``: quarter notes before the first full bar (0: start on the downbeat)."""
        sampling = sampling or Sampling()
        key = key if isinstance(key, Key) else Key.parse(key)
        bar = bar_length(meter)
        if not 0 <= pickup < bar:
            raise ConfigError(
                f"pickup={pickup!r} is not valid: expected 0 <= pickup < {bar} (one bar of {meter})."
            )
        offset = (bar - pickup) % bar
        with torch.no_grad():
            if self.voices == 1:
                return compose_melodies(
                    self.model, n=n, bars=bars, key=key, meter=meter, sampling=sampling, bar_offset=offset
                )
            return compose_chorales(
                self.model, n=n, bars=bars, key=key, meter=meter, sampling=sampling, bar_offset=offset
            )

    def harmonize(self, melody: Piece, *, sampling: Sampling | None = None, n: int = 1) -> list[Piece]:
        """Alto, tenor and bass under ``melody`` (a one-voice Piece), the soprano kept as given."""
        if self.voices != 4:
            where = f" {str(self.path)!r}" if self.path else ""
            raise ConfigError(
                "harmonize needs a four-voice run (rnnkit train music --voices 4): "
                f"the run{where} is a melody model."
            )
        check_range("soprano", [p for p, _ in melody.voices[0]])
        with torch.no_grad():
            return compose_chorales(
                self.model,
                n=n,
                bars=1,
                key=melody.key,
                meter=melody.meter,
                sampling=sampling or Sampling(),
                soprano=melody,
            )

    def evaluate(self, split: str = "test") -> dict[str, Any]:
        """NLL of a split of the run's data (per note, or per grid step and voice)."""
        splits, _ = load_pieces(self.config.replace(max_pieces=None))
        if split not in splits:
            raise ConfigError(
                f"split={split!r} is not valid: expected one of {', '.join(map(repr, splits))}."
            )
        return model_nll(self.model, splits[split], self.voices)

    def describe(self) -> dict[str, Any]:
        return {
            "task": TASK,
            "voices": self.voices,
            "data": self.config.dataset,
            "parameters": self.model.count_params(),
            "can_harmonize": self.voices == 4,
        }
