"""The captioning task's config: every knob of a run. No torch here (``rnnkit train caption --help``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnkit.config import Config, choice, non_negative_int, positive_float, positive_int, rate
from rnnkit.errors import ConfigError, invalid

MODELS = ("attention", "no_attention", "slots")
CELLS = ("lstm", "gru")
BUILTIN_DATA = ("shapes_captions", "digit_strips")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class CaptionConfig(Config):
    """Every knob of a captioning run.

    ``model``: "attention" is Show, Attend and Tell; "no_attention" feeds the mean CNN
    feature at every step instead (the ablation); "slots" is the CNN-only baseline that
    predicts a fixed number of words at once, with no recurrence.
    """

    data: str = "shapes_captions"  # shapes_captions | digit_strips | a folder with captions.tsv + images
    model: str = "attention"  # attention | no_attention | slots
    cell: str = "lstm"  # lstm | gru (the decoder's cell)
    conv_widths: list[int] = field(default_factory=lambda: [16, 32, 64, 96])  # CNN blocks; 2x2 pools between
    units: int = 128  # decoder units (slots: the MLP's hidden units)
    embedding_dim: int = 64
    attention_units: int = 64
    dropout: float = 0.2  # before the output layer
    attention_penalty: float = 0.0  # Show, Attend and Tell's doubly stochastic term (0: off)
    image_size: list[int] = field(default_factory=list)  # [height, width]; empty: the data's own size
    batch_size: int = 64
    epochs: int = 6
    learning_rate: float = 2e-3  # Adam
    clipnorm: float = 5.0  # per-weight gradient clipping (recurrent decoders spike early on)
    beam: int = 3  # beam width for the evaluation; 1 = greedy
    max_len: int = 40  # longest generated caption, in words
    seed: int = 0
    threads: int | None = None  # torch threads; 1 is often faster on a busy shared machine
    max_samples: int | None = None  # cap on training images (quick runs and tests)
    max_steps: int | None = None  # cap on batches per epoch (quick runs and tests)
    eval_samples: int | None = None  # cap on validation/test images scored after training (quick runs)

    def __post_init__(self) -> None:
        choice("model", self.model, MODELS)
        choice("cell", self.cell, CELLS)
        for name in ("units", "embedding_dim", "attention_units", "batch_size", "beam", "max_len"):
            positive_int(name, getattr(self, name))
        if not self.conv_widths or not all(_is_int(w) and w > 0 for w in self.conv_widths):
            raise ConfigError(invalid("conv_widths", self.conv_widths, "a non-empty list of integers >= 1"))
        if self.image_size and (
            len(self.image_size) != 2 or not all(_is_int(s) and s >= 8 for s in self.image_size)
        ):
            raise ConfigError(invalid("image_size", self.image_size, "[height, width] (each >= 8) or []"))
        non_negative_int("epochs", self.epochs)
        non_negative_int("seed", self.seed)
        rate("dropout", self.dropout)
        if isinstance(self.attention_penalty, bool) or not self.attention_penalty >= 0:
            raise ConfigError(invalid("attention_penalty", self.attention_penalty, "a number >= 0"))
        positive_float("learning_rate", self.learning_rate)
        positive_float("clipnorm", self.clipnorm)
        for name in ("threads", "max_samples", "max_steps", "eval_samples"):
            positive_int(name, getattr(self, name), allow_none=True)
