"""The data utilities Keras users reach for, at Keras's paths (``rnnkit.utils.to_categorical`` ...).

- :func:`to_categorical`: class ids -> one-hot rows (``keras.utils.to_categorical``).
- :func:`pad_sequences`: ``keras.utils.pad_sequences`` (defined once, in ``rnnkit.data``).
- :func:`timeseries_dataset_from_array`: sliding windows over a series, in batches
  (``keras.utils.timeseries_dataset_from_array``), as a re-iterable object that
  ``fit``/``evaluate``/``predict`` take like a DataLoader, with ``take(n)`` and
  ``len()`` as the tf.data object Keras returns has.

Windows follow Keras exactly: with ``s = start_index``, window ``i`` starting at
position ``p_i = i * sequence_stride`` holds rows ``data[s + p_i + j * sampling_rate]``
for ``j = 0 .. sequence_length - 1`` and its target is ``targets[s + p_i]``; there are
``end_index - s - (sequence_length - 1) * sampling_rate`` start positions (at most
``len(targets)``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from rnnkit.data.sequences import pad_sequences
from rnnkit.errors import ConfigError, DataError, invalid

__all__ = ["TimeseriesDataset", "pad_sequences", "timeseries_dataset_from_array", "to_categorical"]


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode class ids: shape ``x.shape + (num_classes,)`` (a trailing axis of 1 is dropped).

    ``num_classes=None`` uses ``max(x) + 1``. Float64, as Keras returns for NumPy input.
    """
    x = np.asarray(x)
    if x.size and not np.issubdtype(x.dtype, np.integer) and not np.all(np.mod(x, 1) == 0):
        raise DataError(invalid("x", "non-integer values", "integer class ids"))
    x = x.astype("int64")
    shape = x.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = x.reshape(-1)
    if num_classes is None:
        num_classes = int(flat.max()) + 1 if flat.size else 0
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ConfigError(invalid("num_classes", num_classes, "None or an integer >= 1"))
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise DataError(invalid("x", f"ids {flat.min()}..{flat.max()}", f"ids in 0..{num_classes - 1}"))
    out = np.zeros((flat.size, int(num_classes)))
    out[np.arange(flat.size), flat] = 1
    return out.reshape((*shape, int(num_classes)))


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(invalid(name, value, "an integer >= 1"))
    return int(value)


def _tensor(a: np.ndarray) -> torch.Tensor:
    # Keras's layers compute in float32: float64 windows (pandas' default) come as float32.
    if np.issubdtype(a.dtype, np.floating) and a.dtype != np.float32:
        a = a.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(a))


class TimeseriesDataset:
    """Batches of ``(windows, targets)`` (or windows alone) as tensors, re-iterable like a DataLoader."""

    def __init__(
        self,
        data: np.ndarray,
        targets: np.ndarray | None,
        starts: np.ndarray,
        sequence_length: int,
        sampling_rate: int,
        batch_size: int | None,
        shuffle: bool,
        seed: int | None,
    ) -> None:
        self.data = data
        self.targets = targets
        self.starts = starts
        self.offsets = np.arange(sequence_length) * sampling_rate
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = int(np.random.randint(1_000_000)) if shuffle and seed is None else seed
        self._epoch = 0

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.starts)
        return -(-len(self.starts) // self.batch_size)

    def _order(self) -> np.ndarray:
        if not self.shuffle:
            return self.starts
        # A new order each pass (as tf.data reshuffles each iteration), reproducible from seed.
        rng = np.random.RandomState((int(self.seed or 0) + self._epoch) % 2**32)
        self._epoch += 1
        return self.starts[rng.permutation(len(self.starts))]

    def _item(self, starts: np.ndarray) -> Any:
        x = _tensor(self.data[starts[:, None] + self.offsets])  # (B, sequence_length, *features)
        if self.targets is None:
            return x
        return x, _tensor(self.targets[starts])

    def __iter__(self) -> Iterator[Any]:
        order = self._order()
        if self.batch_size is None:
            for s in order:
                item = self._item(np.asarray([s]))
                yield tuple(t[0] for t in item) if isinstance(item, tuple) else item[0]
            return
        for i in range(0, len(order), self.batch_size):
            yield self._item(order[i : i + self.batch_size])

    def take(self, count: int) -> list[Any]:
        """The first ``count`` batches (tf.data's ``take``, which keras.io examples use)."""
        out = []
        for item in self:
            if len(out) >= count:
                break
            out.append(item)
        return out


def timeseries_dataset_from_array(
    data: Any,
    targets: Any,
    sequence_length: int,
    sequence_stride: int = 1,
    sampling_rate: int = 1,
    batch_size: int | None = 128,
    shuffle: bool = False,
    seed: int | None = None,
    start_index: int | None = None,
    end_index: int | None = None,
) -> TimeseriesDataset:
    """Sliding windows over ``data`` (rows = time steps) with Keras's arguments and indexing.

    ``shuffle=True`` permutes the windows each pass (seeded); the order differs from tf.data's.
    """
    data = np.asarray(data)
    if data.ndim < 1 or len(data) == 0:
        raise DataError(invalid("data", f"an array of shape {data.shape}", "at least one time step"))
    sequence_length = _positive_int("sequence_length", sequence_length)
    sequence_stride = _positive_int("sequence_stride", sequence_stride)
    sampling_rate = _positive_int("sampling_rate", sampling_rate)
    if batch_size is not None:
        batch_size = _positive_int("batch_size", batch_size)
    start = 0 if start_index is None else int(start_index)
    end = len(data) if end_index is None else int(end_index)
    if not 0 <= start < len(data):
        raise ConfigError(invalid("start_index", start_index, f"0 <= start_index < {len(data)}"))
    if not start < end <= len(data):
        raise ConfigError(invalid("end_index", end_index, f"start_index < end_index <= {len(data)}"))
    num_seqs = end - start - (sequence_length - 1) * sampling_rate
    target_array = None
    if targets is not None:
        target_array = np.asarray(targets)
        num_seqs = min(num_seqs, len(target_array))
    if num_seqs <= 0:
        raise DataError(
            invalid("data", f"{end - start} usable rows", "more than (sequence_length - 1) * sampling_rate")
        )
    starts = start + np.arange(0, num_seqs, sequence_stride)
    if target_array is not None and starts[-1] >= len(target_array):
        raise DataError(
            invalid(
                "targets",
                f"{len(target_array)} rows",
                f"a target for row {starts[-1]} (start_index + window start)",
            )
        )
    return TimeseriesDataset(
        data, target_array, starts, sequence_length, sampling_rate, batch_size, shuffle, seed
    )
