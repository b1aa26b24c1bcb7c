"""Variable-length sequences: Keras's ``pad_sequences``, masks, collation, length buckets.

Shape symbols: N sequences in a batch, T time steps (the padded length), and
``...`` any per-step feature shape (e.g. F features).

Right ("post") padding is the default for :func:`collate` because packed sequences
and the fused cuDNN/oneDNN kernels need padding at the end; :func:`pad_sequences`
keeps Keras's default ("pre") so code ported from Keras gives the same arrays.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rnnkit.errors import ConfigError, DataError, invalid

_SIDES = ("pre", "post")


def pad_sequences(
    sequences: Sequence[Any],
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Pad (and truncate) sequences to one length: ``keras.utils.pad_sequences``'s exact semantics.

    Returns an array of shape (N, maxlen, ...). ``maxlen=None`` pads to the longest
    sequence. ``truncating="pre"`` drops values from the start (keeps the end), as Keras
    does. Empty sequences become all ``value``.
    """
    if not hasattr(sequences, "__len__"):
        raise DataError(invalid("sequences", type(sequences).__name__, "a list of sequences"))
    if padding not in _SIDES:
        raise ConfigError(invalid("padding", padding, _SIDES))
    if truncating not in _SIDES:
        raise ConfigError(invalid("truncating", truncating, _SIDES))
    if maxlen is not None and (not isinstance(maxlen, (int, np.integer)) or maxlen < 1):
        raise ConfigError(invalid("maxlen", maxlen, "None or an integer >= 1"))
    lengths: list[int] = []
    sample_shape: tuple[int, ...] = ()
    found_shape = False
    for i, seq in enumerate(sequences):
        try:
            lengths.append(len(seq))
        except TypeError:
            raise DataError(invalid(f"sequences[{i}]", seq, "a sequence (list, array ...)")) from None
        if not found_shape and len(seq):
            # The per-step shape (e.g. (F,) for feature vectors) comes from the first non-empty sequence.
            sample_shape = np.asarray(seq).shape[1:]
            found_shape = True
    if maxlen is None:
        maxlen = max(lengths, default=0)
    is_str_dtype = np.issubdtype(np.dtype(dtype), np.str_)
    if isinstance(value, str) and np.dtype(dtype) != object and not is_str_dtype:
        raise ConfigError(invalid("value", value, f"a number (dtype={dtype!r} cannot hold a string)"))

    out = np.full((len(sequences), int(maxlen), *sample_shape), value, dtype=dtype)  # (N, T, ...)
    for i, seq in enumerate(sequences):
        if not len(seq):
            continue
        kept = seq[-maxlen:] if truncating == "pre" else seq[:maxlen]
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise DataError(
                f"sequences[{i}] has steps of shape {kept.shape[1:]}, but the first non-empty sequence "
                f"has {sample_shape}: all steps must have the same shape."
            )
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, -len(kept) :] = kept
    return out


def lengths_to_mask(
    lengths: torch.Tensor | Sequence[int], maxlen: int | None = None, padding: str = "post"
) -> torch.Tensor:
    """Boolean mask (N, T): True on real steps, False on padding."""
    if padding not in _SIDES:
        raise ConfigError(invalid("padding", padding, _SIDES))
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    T = int(lengths.max()) if maxlen is None and len(lengths) else int(maxlen or 0)
    steps = torch.arange(T)  # (T,)
    if padding == "post":
        return steps.unsqueeze(0) < lengths.unsqueeze(1)  # (N, T)
    return steps.unsqueeze(0) >= (T - lengths).unsqueeze(1)  # (N, T)


@dataclass
class Batch:
    """A collated batch. ``inputs`` (N, T, ...), ``lengths`` (N,), ``mask`` (N, T) bool,
    ``targets`` (N, ...) or None."""

    inputs: torch.Tensor
    lengths: torch.Tensor
    mask: torch.Tensor
    targets: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        t = self.targets.to(device) if self.targets is not None else None
        return Batch(self.inputs.to(device), self.lengths, self.mask.to(device), t)


def collate(
    batch: Sequence[Any],
    *,
    padding_value: float = 0,
    padding: str = "post",
    maxlen: int | None = None,
    dtype: torch.dtype | None = None,
) -> Batch:
    """Collate ``[seq, ...]`` or ``[(seq, target), ...]`` into a padded :class:`Batch`.

    Use as ``DataLoader(..., collate_fn=collate)``. Sequences longer than ``maxlen`` are
    truncated at the end (the start of a review carries its topic). ``lengths`` stay
    on the CPU because ``pack_padded_sequence`` requires it.
    """
    if not len(batch):
        raise DataError("cannot collate an empty batch.")
    if padding not in _SIDES:
        raise ConfigError(invalid("padding", padding, _SIDES))
    has_targets = isinstance(batch[0], tuple)
    seqs = [torch.as_tensor(item[0] if has_targets else item) for item in batch]
    if maxlen is not None:
        seqs = [s[:maxlen] for s in seqs]
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    if dtype is None:
        dtype = seqs[0].dtype
    T = int(lengths.max())
    inputs = torch.full((len(seqs), T, *seqs[0].shape[1:]), padding_value, dtype=dtype)  # (N, T, ...)
    for i, s in enumerate(seqs):
        if padding == "post":
            inputs[i, : len(s)] = s
        elif len(s):
            inputs[i, T - len(s) :] = s
    targets = None
    if has_targets:
        targets = torch.stack([torch.as_tensor(item[1]) for item in batch])  # (N, ...)
    return Batch(inputs, lengths, lengths_to_mask(lengths, T, padding), targets)


def bucket_batches(
    lengths: Sequence[int],
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    bucket_size: int = 100,
    drop_last: bool = False,
) -> list[list[int]]:
    """Group indices into batches of similar length, to cut padding.

    Indices are shuffled, cut into pools of ``bucket_size`` batches, sorted by length
    inside each pool, and sliced into batches; the batch order is then shuffled. The
    pools keep some randomness across epochs (a global sort would give the same
    batches every epoch). ``bucket_size=1`` is plain random batching.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(invalid("batch_size", batch_size, "an integer >= 1"))
    if not isinstance(bucket_size, int) or bucket_size < 1:
        raise ConfigError(invalid("bucket_size", bucket_size, "an integer >= 1"))
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    if shuffle:
        rng.shuffle(order)
    pool = batch_size * bucket_size
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    if drop_last:
        batches = [b for b in batches if len(b) == batch_size]
    if shuffle:
        rng.shuffle(batches)
    return batches


class BucketBatchSampler(torch.utils.data.Sampler[list[int]]):
    """A ``batch_sampler`` for ``DataLoader`` built on :func:`bucket_batches`.

    A new epoch (a new ``iter``) reshuffles with ``seed + epoch``, so runs are reproducible.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        bucket_size: int = 100,
        drop_last: bool = False,
    ) -> None:
        self.lengths = list(lengths)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.bucket_size, self.drop_last = bucket_size, drop_last
        self.epoch = 0
        bucket_batches([], batch_size, bucket_size=bucket_size)  # validates the arguments now

    def __iter__(self) -> Iterator[list[int]]:
        batches = bucket_batches(
            self.lengths,
            self.batch_size,
            shuffle=self.shuffle,
            seed=self.seed + self.epoch,
            bucket_size=self.bucket_size,
            drop_last=self.drop_last,
        )
        self.epoch += 1
        return iter(batches)

    def __len__(self) -> int:
        n = len(self.lengths)
        if self.drop_last:
            # Only full batches survive; each pool of batch_size * bucket_size contributes floor(pool / B).
            pool = self.batch_size * self.bucket_size
            full, rest = divmod(n, pool)
            return full * self.bucket_size + rest // self.batch_size
        pool = self.batch_size * self.bucket_size
        full, rest = divmod(n, pool)
        return full * self.bucket_size + -(-rest // self.batch_size)


def padding_fraction(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Share of padded positions when ``batches`` are padded to their longest member."""
    total = sum(max(lengths[i] for i in b) * len(b) for b in batches if b)
    real = sum(lengths[i] for b in batches for i in b)
    return 0.0 if total == 0 else 1.0 - real / total
