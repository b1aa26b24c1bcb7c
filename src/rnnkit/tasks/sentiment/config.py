"""The sentiment task's config: every knob of a run (presets in ``configs/sentiment*.toml``).

No torch here: ``rnnkit train sentiment --help`` builds its options from this class.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.config import Config, choice, non_negative_int, positive_float, positive_int, rate

CELLS = ("lstm", "gru", "rnn")
POOLINGS = ("max", "mean", "maxmean", "last")
BUILTIN_DATA = ("imdb", "tweets", "rotten_tomatoes")


@dataclass
class SentimentConfig(Config):
    """Every knob of a sentiment run; presets live in ``configs/sentiment.toml``."""

    data: str = "imdb"  # a bundled dataset (imdb, tweets, rotten_tomatoes) or a CSV/TSV/JSONL path
    text_column: str = "text"  # text column of a table file
    label_column: str = "label"  # label column of a table file (two or more classes)
    max_vocab: int = 20_000  # including the 4 special tokens
    maxlen: int = 400  # tokens kept per text (the first ones)
    embed_dim: int = 128
    units: int = 128  # recurrent units per direction
    num_layers: int = 1
    cell: str = "lstm"  # lstm | gru | rnn
    bidirectional: bool = True
    pooling: str = "maxmean"  # max | mean | maxmean | last (last: the plain-RNN long-memory setting)
    dropout: float = 0.3  # before the classifier
    batch_size: int = 32
    epochs: int = 4  # BiLSTMs overfit IMDB after 3-4 epochs; the best validation epoch is kept
    learning_rate: float = 2e-3  # Adam
    clipnorm: float = 1.0
    seed: int = 0
    threads: int | None = None  # torch threads; 1 is often faster on a busy shared machine
    max_samples: int | None = None  # cap on training texts (quick runs and tests)
    max_steps: int | None = None  # cap on batches per epoch (quick runs and tests)

    def __post_init__(self) -> None:
        choice("cell", self.cell, CELLS)
        choice("pooling", self.pooling, POOLINGS)
        for name in ("max_vocab", "maxlen", "embed_dim", "units", "num_layers", "batch_size"):
            positive_int(name, getattr(self, name))
        non_negative_int("epochs", self.epochs)
        non_negative_int("seed", self.seed)
        rate("dropout", self.dropout)
        positive_float("learning_rate", self.learning_rate)
        positive_float("clipnorm", self.clipnorm)
        for name in ("threads", "max_samples", "max_steps"):
            positive_int(name, getattr(self, name), allow_none=True)
