"""The language-model task's config (presets ``configs/lm_ptb.toml``, ``configs/char_lm.toml``).

No torch here: ``rnnkit train lm --help`` builds its options from this class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rnnkit.config import Config, choice, non_negative_int, positive_float, positive_int, rate
from rnnkit.errors import ConfigError, invalid

TASK = "lm"
LEVELS = ("word", "char")
CELLS = ("lstm", "gru")
LM_OPTIMIZERS = ("adam", "sgd")
BUILTIN_CORPORA = ("ptb", "shakespeare")


@dataclass
class LMConfig(Config):
    """Every knob of an LM run; presets in ``configs/lm_ptb.toml`` and ``configs/char_lm.toml``."""

    # --max-samples caps the training tokens of a language model.
    OPTION_FIELDS: ClassVar[dict[str, str]] = {"max_samples": "max_tokens"}

    data: str = "ptb"  # ptb | shakespeare | a UTF-8 text file
    level: str = "word"  # word | char
    max_vocab: int | None = 10_000  # word level: vocabulary cap, 4 special tokens included (char: unused)
    embed_dim: int = 256
    units: int = 256
    num_layers: int = 2
    cell: str = "lstm"  # lstm | gru
    dropout: float = 0.4
    tie_weights: bool = True  # output layer = the embedding transposed (Press & Wolf 2017)
    batch_size: int = 32
    bptt: int = 35  # steps per truncated-BPTT chunk
    epochs: int = 6
    learning_rate: float = 2e-3
    optimizer: str = "adam"  # adam | sgd (PyTorch's word_language_model example: sgd, lr 20)
    clipnorm: float = 1.0  # adam: per-weight norm clip (Keras's clipnorm); sgd: the global norm
    lr_decay: float | None = None  # multiply lr by this after an epoch without val_loss progress
    init_range: float | None = None  # embedding U(-r, r); None: N(0, 1/E), times sqrt(E) at the input
    seed: int = 0
    threads: int | None = None  # torch threads; 1 is often faster on a busy shared machine
    max_tokens: int | None = None  # cap on training tokens (quick runs and tests)
    max_steps: int | None = None  # cap on chunks per epoch (quick runs and tests)

    def __post_init__(self) -> None:
        choice("level", self.level, LEVELS)
        choice("cell", self.cell, CELLS)
        choice("optimizer", self.optimizer, LM_OPTIMIZERS)
        for name in ("embed_dim", "units", "num_layers", "batch_size", "bptt"):
            positive_int(name, getattr(self, name))
        positive_int("max_vocab", self.max_vocab, allow_none=True)
        non_negative_int("epochs", self.epochs)
        non_negative_int("seed", self.seed)
        rate("dropout", self.dropout)
        positive_float("learning_rate", self.learning_rate)
        positive_float("clipnorm", self.clipnorm)
        positive_float("init_range", self.init_range, allow_none=True)
        for name in ("threads", "max_tokens", "max_steps"):
            positive_int(name, getattr(self, name), allow_none=True)
        if self.lr_decay is not None and not 0.0 < self.lr_decay < 1.0:
            raise ConfigError(invalid("lr_decay", self.lr_decay, "None or a number in (0, 1)"))
