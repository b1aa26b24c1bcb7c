"""The translation task's config: every knob of a run.

No torch here: ``rnnkit train translate --help`` builds its options from this class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rnnkit.config import Config, choice, non_negative_int, positive_float, positive_int, rate
from rnnkit.errors import ConfigError, invalid

CELLS = ("lstm", "gru")
PRECISIONS = (None, "bf16")
CLOCKS = ("wall", "cpu")
ATTENTIONS = ("dot", "additive", "none")  # Luong (general) | Bahdanau (additive) | plain encoder-decoder
BUILTIN_DATA = ("bible_en_es", "bible_en_es:random", "bible_en_es:books")


@dataclass
class TranslationConfig(Config):
    """Every knob of a translation run (English -> Spanish on the bundled Bible by default)."""

    # More epochs, a longer time budget or a larger evaluation may change when a run is resumed.
    RESUMABLE_KEYS: ClassVar[frozenset[str]] = Config.RESUMABLE_KEYS | {
        "max_minutes",
        "budget_clock",
        "no_repeat_ngram",
        "max_eval",
        "beam",
    }

    data: str = "bible_en_es"  # bible_en_es (random verse split), bible_en_es:books, or a TSV/CSV/JSONL file
    source_column: str = "source"  # source-language column of a pairs file
    target_column: str = "target"  # target-language column of a pairs file
    src_vocab: int = 8000  # byte-level BPE per language, trained on the training split only
    tgt_vocab: int = 8000
    max_src_len: int = 150  # subword tokens; longer training pairs are dropped, longer input is refused
    max_tgt_len: int = 150
    embed_dim: int = 256
    units: int = 256  # decoder units; the encoder has units / 2 per direction when bidirectional
    cell: str = "lstm"  # lstm | gru
    bidirectional: bool = True  # encoder
    attention: str = "dot"  # dot (Luong general) | additive (Bahdanau) | none (the plain encoder-decoder)
    tie_embeddings: bool = False  # decoder input embedding shared with the output layer
    dropout: float = 0.2  # on embeddings and the attentional layer
    label_smoothing: float = 0.1
    batch_size: int = 64
    epochs: int = 8
    learning_rate: float = 2e-3  # Adam
    clipnorm: float = 1.0  # per-weight gradient clipping: RNN gradients can explode
    # the last fraction of the run (of max_minutes, else of the epochs) in which lr falls linearly to 0
    lr_decay: float = 0.0
    mixed_precision: str | None = None  # "bf16": bfloat16 autocast in training (faster on AVX512-BF16 CPUs)
    beam: int = 5  # evaluation and default decoding
    length_penalty: float = 0.6  # GNMT alpha; 0 ranks by log-probability alone
    max_len_ratio: float = 1.5  # output tokens at most ratio * source tokens + 10
    # decoding never repeats a target subword n-gram of this size (fairseq's no_repeat_ngram_size); 0: off
    no_repeat_ngram: int = 0
    seed: int = 0
    threads: int | None = None  # torch threads; 1 is often fastest on a busy shared machine
    max_samples: int | None = None  # cap on training pairs (quick runs and tests)
    max_steps: int | None = None  # cap on batches per epoch (quick runs and tests)
    max_eval: int | None = None  # cap on evaluated sentences per split (quick runs)
    max_minutes: float | None = None  # stop training after this many minutes (a benchmark's time budget)
    # what max_minutes counts: wall | cpu (this process's CPU time: a fair budget on a shared machine)
    budget_clock: str = "wall"

    def __post_init__(self) -> None:
        choice("cell", self.cell, CELLS)
        choice("attention", self.attention, ATTENTIONS)
        for name in (
            "src_vocab",
            "tgt_vocab",
            "max_src_len",
            "max_tgt_len",
            "embed_dim",
            "units",
            "batch_size",
            "beam",
        ):
            positive_int(name, getattr(self, name))
        for name in ("src_vocab", "tgt_vocab"):
            if getattr(self, name) < 260:
                raise ConfigError(
                    invalid(name, getattr(self, name), "an integer >= 260 (4 specials + 256 bytes)")
                )
        if self.bidirectional and self.units % 2:
            raise ConfigError(
                invalid("units", self.units, "an even number when bidirectional (units / 2 a direction)")
            )
        non_negative_int("epochs", self.epochs)
        non_negative_int("no_repeat_ngram", self.no_repeat_ngram)
        non_negative_int("seed", self.seed)
        rate("dropout", self.dropout)
        rate("label_smoothing", self.label_smoothing)
        decay = self.lr_decay
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay <= 1:
            raise ConfigError(invalid("lr_decay", self.lr_decay, "a number in [0, 1]"))
        choice("mixed_precision", self.mixed_precision, PRECISIONS)
        choice("budget_clock", self.budget_clock, CLOCKS)
        positive_float("learning_rate", self.learning_rate)
        positive_float("clipnorm", self.clipnorm)
        positive_float("max_len_ratio", self.max_len_ratio)
        if (
            isinstance(self.length_penalty, bool)
            or not isinstance(self.length_penalty, (int, float))
            or self.length_penalty < 0
        ):
            raise ConfigError(invalid("length_penalty", self.length_penalty, "a number >= 0"))
        positive_float("max_minutes", self.max_minutes, allow_none=True)
        for name in ("threads", "max_samples", "max_steps", "max_eval"):
            positive_int(name, getattr(self, name), allow_none=True)
