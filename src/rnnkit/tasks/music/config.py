"""The music task's config. No torch here: ``rnnkit train music --help`` reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rnnkit.config import Config, choice, non_negative_int, positive_float, positive_int, rate
from rnnkit.errors import ConfigError, invalid

TASK = "music"
DATA = ("chorales", "chorales:tunes", "chorales:files")
VOICE_COUNTS = (1, 4)
CELLS = ("lstm", "gru")


@dataclass
class MusicConfig(Config):
    """Every knob of a music run (a melody model with ``voices=1``, four voices with 4)."""

    OPTION_FIELDS: ClassVar[dict[str, str]] = {"max_samples": "max_pieces"}
    # A resumed run may train longer or with more patience: the model stays the same.
    RESUMABLE_KEYS: ClassVar[frozenset[str]] = Config.RESUMABLE_KEYS | {"minutes", "patience"}

    data: str = "chorales"  # chorales (= chorales:tunes, split by tune) | chorales:files (the older split)
    voices: int = 1  # 1: soprano melody LM over (pitch, duration) notes; 4: SATB on a sixteenth grid
    units: int = 256
    num_layers: int = 2
    embed_dim: int = 64
    cell: str = "lstm"  # lstm | gru
    dropout: float = 0.3  # between layers and after the stack: 297 chorales overfit fast
    augment: bool = True  # a random key transposition per piece per epoch (within the voices' ranges)
    batch_size: int = 16
    epochs: int = 60
    learning_rate: float = 2e-3
    clipnorm: float = 1.0  # per-weight gradient norm clip
    lr_decay: float | None = 0.5  # multiply lr by this after lr_patience epochs without progress
    lr_patience: int = 3
    patience: int = 10  # stop after this many epochs without a better validation NLL (0: never)
    minutes: float | None = None  # stop at the first epoch end past this much training time
    seed: int = 0
    threads: int | None = None
    max_pieces: int | None = None  # cap on training chorales (quick runs and tests)
    max_steps: int | None = None  # cap on batches per epoch (quick runs and tests)

    def __post_init__(self) -> None:
        choice("data", self.data, DATA)
        choice("voices", self.voices, VOICE_COUNTS)
        choice("cell", self.cell, CELLS)
        for name in ("units", "num_layers", "embed_dim", "batch_size"):
            positive_int(name, getattr(self, name))
        non_negative_int("epochs", self.epochs)
        non_negative_int("patience", self.patience)
        non_negative_int("lr_patience", self.lr_patience)
        if self.lr_decay is not None and not 0.0 < self.lr_decay < 1.0:
            raise ConfigError(invalid("lr_decay", self.lr_decay, "None or a number in (0, 1)"))
        non_negative_int("seed", self.seed)
        rate("dropout", self.dropout)
        positive_float("learning_rate", self.learning_rate)
        positive_float("clipnorm", self.clipnorm)
        positive_float("minutes", self.minutes, allow_none=True)
        for name in ("threads", "max_pieces", "max_steps"):
            positive_int(name, getattr(self, name), allow_none=True)

    @property
    def dataset(self) -> str:
        """The registry name: plain "chorales" means the tune-grouped split here."""
        return "chorales:tunes" if self.data == "chorales" else self.data
