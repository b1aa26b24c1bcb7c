"""Translation data: sentence pairs (the bundled Bible or a user's file), subword tokenizers
trained on the training split only, and length-bucketed teacher-forcing batches.

A batch is ``((src (B, S), tgt_in (B, T)), tgt_out (B, T))``: ``tgt_in`` is ``<bos> y_1 .. y_n``
and ``tgt_out`` is ``y_1 .. y_n <eos>`` (the next token at every step), all padded with 0.
Batches are sorted by source length within pools (jittered, reshuffled every epoch), so
the padding the masked bidirectional encoder reads stays small.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data import BPETokenizer, read_table
from rnnkit.errors import DataError, invalid
from rnnkit.tasks.translation.config import BUILTIN_DATA, TranslationConfig

Pair = tuple[str, str]


@dataclass
class PairSplits:
    train: list[Pair]
    validation: list[Pair]
    test: list[Pair]
    source: str  # what the data is, for run.json and metrics
    keys: dict[str, list[str]] = field(default_factory=dict)  # verse keys of the bundled data


def load_pairs(config: TranslationConfig) -> PairSplits:
    """The bundled Bible (its fixed split) or a pairs file (seeded 80/10/10 split)."""
    if config.data in BUILTIN_DATA:
        from rnnkit import datasets

        ds: Any = datasets.load(config.data)
        splits = PairSplits(ds.train, ds.validation, ds.test, f"dataset {config.data}", dict(ds.keys))
    else:
        path = Path(config.data)
        if not path.is_file():
            raise DataError(
                invalid(
                    "data", config.data, f"one of {', '.join(BUILTIN_DATA)} or an existing TSV/CSV/JSONL file"
                )
            )
        pairs = read_pairs(path, config.source_column, config.target_column)
        splits = split_pairs(pairs, seed=config.seed, source=str(path))
    if config.max_samples is not None:
        splits.train = splits.train[: config.max_samples]
    return splits


def read_pairs(path: str | Path, source_column: str, target_column: str) -> list[Pair]:
    """(source, target) rows of a TSV/CSV/JSONL file; a missing column or an empty side is an error."""
    table = read_table(path)
    names = ", ".join(repr(c) for c in table)
    for arg, col in (("source_column", source_column), ("target_column", target_column)):
        if col not in table:
            raise DataError(invalid(arg, col, f"a column of {str(path)!r} (its columns: {names})"))
    pairs = []
    for i, (src, tgt) in enumerate(zip(table[source_column], table[target_column], strict=True)):
        for side, text in (("source", src), ("target", tgt)):
            if not text.strip():
                # +2: the header line, and people count lines from 1.
                raise DataError(
                    f"{str(path)!r} row {i + 2}: the {side} side is empty; every pair needs both."
                )
        pairs.append((src.strip(), tgt.strip()))
    return pairs


def split_pairs(pairs: list[Pair], *, seed: int, source: str) -> PairSplits:
    """Seeded 80/10/10 split of a user's pairs (at least one pair in each part)."""
    n = len(pairs)
    if n < 3:
        raise DataError(f"{source!r} has {n} sentence pairs: at least 3 are needed (train/validation/test).")
    order = np.random.default_rng(seed).permutation(n)
    n_eval = max(1, n // 10)
    test, val, train = order[:n_eval], order[n_eval : 2 * n_eval], order[2 * n_eval :]
    return PairSplits([pairs[i] for i in train], [pairs[i] for i in val], [pairs[i] for i in test], source)


def make_tokenizers(
    train: Sequence[Pair], src_vocab: int, tgt_vocab: int
) -> tuple[BPETokenizer, BPETokenizer]:
    """Byte-level BPE per language, fitted on the training pairs only (no test text leaks in)."""
    src = BPETokenizer(vocab_size=src_vocab).fit([s for s, _ in train])
    tgt = BPETokenizer(vocab_size=tgt_vocab).fit([t for _, t in train])
    return src, tgt


def encode_pairs(
    src_tok: BPETokenizer,
    tgt_tok: BPETokenizer,
    pairs: Sequence[Pair],
    max_src_len: int,
    max_tgt_len: int,
) -> tuple[list[list[int]], list[list[int]]]:
    """Training ids: sources as is, targets as ``<bos> ids <eos>``; over-long pairs are dropped."""
    src_ids = src_tok.encode_batch([s for s, _ in pairs])
    tgt_ids = tgt_tok.encode_batch([t for _, t in pairs], add_bos=True, add_eos=True)
    keep = [
        i
        for i, (s, t) in enumerate(zip(src_ids, tgt_ids, strict=True))
        if 0 < len(s) <= max_src_len and len(t) - 2 <= max_tgt_len
    ]
    return [src_ids[i] for i in keep], [tgt_ids[i] for i in keep]


def pad(seqs: Sequence[Sequence[int]]) -> torch.Tensor:
    """Right-pad with 0 (<pad>) to (N, longest)."""
    out = np.zeros((len(seqs), max(len(s) for s in seqs)), dtype=np.int64)
    for row, s in enumerate(seqs):
        out[row, : len(s)] = s
    return torch.from_numpy(out)


class PairBatches:
    """Re-iterable teacher-forcing batches ``((src, tgt_in), tgt_out)`` for ``fit``/``evaluate``."""

    def __init__(
        self,
        src: Sequence[Sequence[int]],
        tgt: Sequence[Sequence[int]],
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        max_steps: int | None = None,
    ) -> None:
        if not src:
            raise DataError("no sentence pairs to batch: every pair was empty or over the length limits.")
        self.src, self.tgt = list(src), list(tgt)
        self.lengths = np.array([len(s) for s in self.src])
        self.batch_size, self.shuffle, self.max_steps = batch_size, shuffle, max_steps
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = math.ceil(len(self.src) / self.batch_size)
        return n if self.max_steps is None else min(n, self.max_steps)

    def batch_indices(self) -> list[np.ndarray]:
        # +-10% jitter: tight buckets that still change from epoch to epoch.
        jitter = 1 + 0.1 * self.rng.uniform(-1, 1, len(self.lengths)) if self.shuffle else 1
        order = np.argsort(self.lengths * jitter, kind="stable")
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.shuffle:
            self.rng.shuffle(batches)  # type: ignore[arg-type]
        return batches[: len(self)]

    def __iter__(self) -> Iterator[tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]]:
        for idx in self.batch_indices():
            tgt = pad([self.tgt[i] for i in idx])  # (B, T + 1): <bos> ... <eos>
            yield (pad([self.src[i] for i in idx]), tgt[:, :-1]), tgt[:, 1:]
