"""Sentiment data: bundled datasets or a user's table, split, tokenized, bucketed into batches.

Training batches are *bucketed*: reviews sorted by length (with jitter, so batches
change between epochs), cut into batches, and each batch trimmed to its shortest
review. Trimming drops a few tail tokens (<1% on IMDB at batch 32) and leaves no
padding at all, so every batch runs the fused oneDNN kernel instead of a packed
sequence (ANCHORS.md: packing made the hand-written baseline 12 min/epoch).
Evaluation and prediction pad instead (exact, masked) since they do not train.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data import LabeledTexts, Tokenizer, WordTokenizer, load_text_classification
from rnnkit.errors import DataError, invalid
from rnnkit.tasks.sentiment.config import BUILTIN_DATA, SentimentConfig

logger = logging.getLogger(__name__)


class BucketedBatches:
    """Re-iterable (x, y) batches of similar-length sequences, for ``fit``/``evaluate``.

    ``trim=True`` (training): each batch is cut to its shortest sequence, so it has no
    padding. ``trim=False``: padded with 0 to the longest (exact; the model masks it).
    """

    def __init__(
        self,
        seqs: Sequence[Sequence[int]],
        labels: np.ndarray,
        batch_size: int,
        *,
        shuffle: bool,
        trim: bool,
        seed: int = 0,
        max_steps: int | None = None,
    ) -> None:
        self.seqs = [np.asarray(s, dtype=np.int64) for s in seqs]
        self.labels = np.asarray(labels, dtype=np.int64)
        self.lengths = np.array([len(s) for s in self.seqs])
        self.batch_size, self.shuffle, self.trim, self.max_steps = batch_size, shuffle, trim, max_steps
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = math.ceil(len(self.seqs) / self.batch_size)
        return n if self.max_steps is None else min(n, self.max_steps)

    def batch_indices(self) -> list[np.ndarray]:
        # Jitter of +-10% keeps the buckets tight while changing them from epoch to epoch.
        keys = self.lengths * (1 + 0.1 * self.rng.uniform(-1, 1, len(self.lengths)) if self.shuffle else 1)
        order = np.argsort(keys, kind="stable")
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.shuffle:
            self.rng.shuffle(batches)  # type: ignore[arg-type]
        return batches[: len(self)]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for idx in self.batch_indices():
            lens = self.lengths[idx]
            T = int(lens.min() if self.trim else lens.max())
            x = np.zeros((len(idx), T), dtype=np.int64)  # (B, T), 0 = <pad>
            for row, i in enumerate(idx):
                s = self.seqs[i][:T]
                x[row, : len(s)] = s
            yield torch.from_numpy(x), torch.from_numpy(self.labels[idx])


@dataclass
class TextSplits:
    train: LabeledTexts
    validation: LabeledTexts
    test: LabeledTexts
    classes: list[str]
    source: str


def load_sentiment_data(config: SentimentConfig) -> TextSplits:
    """A bundled dataset (its fixed split) or a table file (seeded 80/10/10 split)."""
    if config.data in BUILTIN_DATA:
        from rnnkit import datasets

        ds: Any = datasets.load(config.data)
        splits = TextSplits(ds.train, ds.validation, ds.test, list(ds.classes), f"dataset {config.data}")
    else:
        path = Path(config.data)
        if not path.is_file():
            raise DataError(
                invalid(
                    "data", config.data, f"one of {', '.join(BUILTIN_DATA)} or an existing CSV/TSV/JSONL file"
                )
            )
        table = load_text_classification(
            path, text_column=config.text_column, label_column=config.label_column
        )
        splits = split_table(drop_unlabelled(table, str(path)), seed=config.seed, source=str(path))
    present = sorted({int(v) for v in splits.train.labels})
    if len(present) < 2:
        only = splits.classes[present[0]] if present else "none"
        raise DataError(
            f"labels have a single class ({only!r}): a classifier needs texts of at least two classes."
        )
    if config.max_samples is not None:
        splits.train = take(splits.train, np.arange(min(config.max_samples, len(splits.train))))
        n_eval = max(1, config.max_samples // 4)
        splits.validation = take(splits.validation, np.arange(min(n_eval, len(splits.validation))))
        splits.test = take(splits.test, np.arange(min(n_eval, len(splits.test))))
    return splits


def drop_unlabelled(table: LabeledTexts, source: str) -> LabeledTexts:
    """Rows with an empty label or an empty text are dropped, with their count and lines on stderr.

    An empty label cell would otherwise become a class of its own (''), and an empty text
    teaches nothing. Rows are named by their line in the file (the header is line 1), or
    counted from 1 when the table did not come from a file."""
    label_of = [table.classes[int(v)] for v in table.labels]
    bad = [
        i
        for i, (text, label) in enumerate(zip(table.texts, label_of, strict=True))
        if not label or not text.strip()
    ]
    if not bad:
        return table
    word, numbers = ("line", table.lines) if table.lines is not None else ("row", range(1, len(table) + 1))
    shown = ", ".join(str(numbers[i]) for i in bad[:10]) + (
        f" and {len(bad) - 10} more" if len(bad) > 10 else ""
    )
    where = f"{word}{'s' if len(bad) > 1 else ''} {shown}"
    logger.warning("%s: dropped %d row(s) with an empty label or text (at %s)", source, len(bad), where)
    keep = np.setdiff1d(np.arange(len(table)), bad)
    classes = [c for c in table.classes if c]
    remap = {old: classes.index(name) for old, name in enumerate(table.classes) if name}
    labels = np.array([remap[int(table.labels[i])] for i in keep], dtype=np.int64)
    return LabeledTexts([table.texts[i] for i in keep], labels, classes)


def take(part: LabeledTexts, idx: np.ndarray) -> LabeledTexts:
    return LabeledTexts([part.texts[i] for i in idx], part.labels[idx], part.classes)


def split_table(table: LabeledTexts, *, seed: int, source: str) -> TextSplits:
    """Seeded 80/10/10 split of a user's table (at least one text in each part)."""
    n = len(table)
    if n < 3:
        raise DataError(f"{source!r} has {n} labelled texts: at least 3 are needed (train/validation/test).")
    order = np.random.default_rng(seed).permutation(n)
    n_test = n_val = max(1, n // 10)
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return TextSplits(take(table, train), take(table, val), take(table, test), table.classes, source)


def make_tokenizer(texts: Sequence[str], max_vocab: int) -> WordTokenizer:
    tok = WordTokenizer(lower=True, punctuation="split", max_size=max_vocab)
    tok.fit(texts)
    return tok


def encode_texts(tok: Tokenizer, texts: Sequence[str], maxlen: int) -> list[list[int]]:
    # An empty text still needs one step: <unk> stands in (training data only; predict refuses it).
    return [tok.encode(t)[:maxlen] or [1] for t in texts]
