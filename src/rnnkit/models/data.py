"""What ``fit``/``evaluate``/``predict`` accept, turned into batches of tensors.

Accepted: NumPy arrays, tensors, Python lists, several inputs (a tuple or dict
of arrays; a list of arrays when it cannot be a list of samples), a
``torch.utils.data.Dataset`` or any iterable of batches (a ``DataLoader``).

Variable-length sequences (a list of arrays of shapes (T_i, ...) or of lists) are
padded **after** their end with 0 to the longest, and the batch carries a Keras
mask (``_keras_mask``, True = real step). 0 is the id ``Embedding(mask_zero=True)``
reserves and the value ``Masking()`` looks for by default, so either layer also
recovers the mask; recurrent layers read the attached one directly. Right padding
keeps fused (cuDNN/oneDNN) kernels eligible.

Floats become float32 (Keras's floatx), integers int64.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch

from rnnkit.errors import ConfigError, DataError, invalid

Tensor = torch.Tensor
Batch = tuple[Any, Any, Tensor | None]  # (x, y, sample_weight)


# ------------------------------------------------------------------ structures
def tree_map(fn: Any, obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: tree_map(fn, v) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return (
            type(obj)(tree_map(fn, v) for v in obj)
            if isinstance(obj, tuple)
            else [tree_map(fn, v) for v in obj]
        )
    return None if obj is None else fn(obj)


def tree_leaves(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        return [leaf for v in obj.values() for leaf in tree_leaves(v)]
    if isinstance(obj, (tuple, list)):
        return [leaf for v in obj for leaf in tree_leaves(v)]
    return [] if obj is None else [obj]


def to_tensor(a: Any) -> Tensor:
    """One array-like to a tensor: float -> float32, int -> int64, bool kept."""
    if isinstance(a, Tensor):
        t = a
    else:
        arr = np.asarray(a)
        if arr.dtype == object:
            raise DataError(
                invalid("x", "an array of Python objects", "numbers (pad ragged sequences or pass a list)")
            )
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_floating_point() and t.dtype != torch.float32 and t.dtype not in (torch.bfloat16, torch.float16):
        t = t.to(torch.float32)
    elif t.dtype in (torch.int8, torch.int16, torch.int32, torch.uint8):
        t = t.to(torch.int64)
    return t


def pad_sequences(seqs: list[Any], value: float = 0.0) -> tuple[Tensor, Tensor]:
    """Right-pad sequences of shapes (T_i, ...) to (N, max T_i, ...); return (padded, mask (N, T) bool)."""
    ts = [to_tensor(s) for s in seqs]
    if not ts:
        raise DataError(invalid("x", "an empty list", "at least one sample"))
    rest = {tuple(t.shape[1:]) for t in ts}
    if len(rest) > 1 or any(t.dim() == 0 for t in ts):
        raise DataError(invalid("x", f"sequences with step shapes {sorted(rest)}", "one step shape for all"))
    T = max(t.shape[0] for t in ts)
    dtype = torch.float32 if any(t.is_floating_point() for t in ts) else ts[0].dtype
    out = torch.full((len(ts), T, *ts[0].shape[1:]), value, dtype=dtype)
    mask = torch.zeros(len(ts), T, dtype=torch.bool)
    for i, t in enumerate(ts):
        out[i, : t.shape[0]] = t  # (T_i, ...) into row i, rest stays padding
        mask[i, : t.shape[0]] = True
    return out, mask


def _is_ragged(x: list[Any]) -> bool:
    try:
        lengths = {len(s) for s in x}
    except TypeError:
        return False
    return len(lengths) > 1


def _as_samples(x: list[Any]) -> tuple[Tensor, Tensor | None]:
    """A Python list of samples: stacked if they share a shape, padded + masked if not."""
    if x and all(isinstance(s, (list, tuple, np.ndarray, Tensor)) for s in x) and _is_ragged(x):
        return pad_sequences(x)
    return to_tensor(x if not x or not isinstance(x[0], Tensor) else torch.stack(list(x))), None


def _n(t: Any) -> int:
    leaves = tree_leaves(t)
    return int(leaves[0].shape[0]) if leaves else 0


def _normalize(x: Any, y_len: int | None) -> tuple[Any, Tensor | None]:
    """Returns (tensor or tuple/dict of tensors, mask for a padded single input)."""
    if isinstance(x, dict):
        return {k: to_tensor(v) for k, v in x.items()}, None
    if isinstance(x, tuple):
        return tuple(to_tensor(v) for v in x), None
    if isinstance(x, list):
        arrays = all(isinstance(v, (np.ndarray, Tensor)) and np.ndim(v) >= 1 for v in x)
        # A list of whole input arrays (Keras's multi-input form) is told apart from a
        # list of samples by its length: it has one entry per input, not per sample.
        if (
            arrays
            and len(x) > 1
            and y_len is not None
            and len(x) != y_len
            and all(len(v) == y_len for v in x)
        ):
            return tuple(to_tensor(v) for v in x), None
        return _as_samples(x)
    return to_tensor(x), None


def check_finite(t: Any, name: str) -> None:
    for leaf in tree_leaves(t):
        if isinstance(leaf, Tensor) and leaf.is_floating_point():
            bad = ~torch.isfinite(leaf)
            if bool(bad.any()):
                row = int(bad.reshape(bad.shape[0], -1).any(dim=1).nonzero()[0, 0])
                what = "NaN" if bool(torch.isnan(leaf).any()) else "an infinite value"
                raise DataError(
                    f"{name} contains {what} (first in sample {row} of {leaf.shape[0]}): expected finite "
                    "values; drop or impute the missing values before training."
                )


def class_weights_to_sample_weights(y: Tensor, class_weight: dict[int, float]) -> Tensor:
    """Keras's class_weight: each sample (or step) weighs class_weight[its class]; absent classes weigh 1."""
    if not isinstance(class_weight, dict):
        raise ConfigError(invalid("class_weight", class_weight, "a dict {class id: weight}"))
    if y.is_floating_point() and y.dim() >= 2 and y.shape[-1] > 1:
        ids = y.argmax(dim=-1)  # one-hot labels
    else:
        ids = (y.squeeze(-1) if y.dim() >= 2 and y.shape[-1] == 1 else y).round().long()
    size = max(int(ids.max()) + 1 if ids.numel() else 1, max(int(k) for k in class_weight) + 1)
    table = torch.ones(size, dtype=torch.float32)
    for k, w in class_weight.items():
        table[int(k)] = float(w)
    return table[ids.clamp_min(0)]


# ------------------------------------------------------------------ in-memory arrays
class ArrayData:
    """x, y, sample_weight held as tensors; yields shuffled (or ordered) batches."""

    def __init__(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        *,
        check: bool = True,
    ) -> None:
        if x is None:
            raise DataError(
                invalid("x", None, "arrays, tensors, a list of sequences, a Dataset or a DataLoader")
            )
        y_len = None
        y_mask = None
        if y is not None:
            if (
                isinstance(y, list)
                and y
                and all(isinstance(s, (list, np.ndarray, Tensor)) for s in y)
                and _is_ragged(y)
            ):
                y, y_mask = pad_sequences(y)
            else:
                y, _ = _normalize(y, None) if isinstance(y, (dict, tuple)) else (to_tensor(y), None)
            # One-hot boolean targets (keras.io's char examples): Keras casts y to the prediction's float.
            y = tree_map(lambda t: t.float() if isinstance(t, Tensor) and t.dtype == torch.bool else t, y)
            y_len = _n(y)
        self.x, self.mask = _normalize(x, y_len)
        self.y = y
        self.y_mask = y_mask
        self.sample_weight = None if sample_weight is None else to_tensor(sample_weight).to(torch.float32)
        n = _n(self.x)
        if n == 0:
            raise DataError(invalid("x", "no samples", "at least one sample"))
        for leaf in tree_leaves(self.x):
            if leaf.shape[0] != n:
                raise DataError(
                    "the inputs have different numbers of samples: "
                    f"{[int(t.shape[0]) for t in tree_leaves(self.x)]}. "
                    "Expected the same number in every input."
                )
        if y is not None and _n(y) != n:
            raise DataError(
                f"x and y have different lengths: x has {n} samples, y has {_n(y)}. "
                "Expected the same number of samples in x and y."
            )
        if self.sample_weight is not None and self.sample_weight.shape[0] != n:
            raise DataError(
                f"sample_weight has {self.sample_weight.shape[0]} entries, x has {n} samples. "
                "Expected one weight per sample."
            )
        if check:
            check_finite(self.x, "x")
            if y is not None:
                check_finite(y, "y")

    def __len__(self) -> int:
        return _n(self.x)

    def _take(self, idx: slice | Tensor) -> ArrayData:
        out = object.__new__(ArrayData)
        out.x = tree_map(lambda t: t[idx], self.x)
        out.y = tree_map(lambda t: t[idx], self.y)
        out.mask = None if self.mask is None else self.mask[idx]
        out.y_mask = None if self.y_mask is None else self.y_mask[idx]
        out.sample_weight = None if self.sample_weight is None else self.sample_weight[idx]
        return out

    def split(self, validation_split: float) -> tuple[ArrayData, ArrayData]:
        """Keras's validation_split: the *last* fraction, taken before any shuffling."""
        n = len(self)
        at = math.floor(n * (1.0 - validation_split))
        if at <= 0 or at >= n:
            raise DataError(
                f"validation_split={validation_split} leaves {at} training and {n - at} validation samples "
                f"of {n}: expected at least one of each."
            )
        return self._take(slice(0, at)), self._take(slice(at, n))

    def num_batches(self, batch_size: int, world: int = 1) -> int:
        full, rest = divmod(len(self), batch_size)
        return full + int(rest >= world)  # the rule of batches(): a last batch needs a sample per process

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        device: torch.device | None = None,
        rank: int = 0,
        world: int = 1,
    ) -> Iterator[Batch]:
        """Batches of ``batch_size`` (the global size; in a distributed run each
        process takes every ``world``-th sample of each global batch, so the union of
        the shards is the single-process batch and averaged gradients match it).

        A last batch with fewer samples than processes is skipped on every process: one with
        no rows would have no loss to back-propagate, and the others would wait for its
        gradients forever (as :class:`rnnkit.tasks.runs.ShardedBatches` does for batches)."""
        n = len(self)
        order = torch.randperm(n) if shuffle else None
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            if stop - start < world:  # only a short last batch, and never with world=1
                continue
            idx: slice | Tensor = slice(start, stop) if order is None else order[start:stop]
            if world > 1:
                full = torch.arange(start, stop) if order is None else order[start:stop]
                idx = full[rank::world]
            yield self._batch(idx, device)

    def _batch(self, idx: slice | Tensor, device: torch.device | None) -> Batch:
        def move(t: Tensor) -> Tensor:
            t = t[idx]
            if device is None or t.device == device:
                return t
            return t.to(device, non_blocking=True)

        x = tree_map(move, self.x)
        y = tree_map(move, self.y)
        if self.mask is not None and isinstance(x, Tensor):
            x._keras_mask = move(self.mask)  # type: ignore[attr-defined]
        sw = None if self.sample_weight is None else move(self.sample_weight)
        if self.y_mask is not None:
            ym = move(self.y_mask).to(torch.float32)
            sw = ym if sw is None else _outer_weight(sw, ym)
        return x, y, sw


def _outer_weight(sw: Tensor, step_mask: Tensor) -> Tensor:
    while sw.dim() < step_mask.dim():
        sw = sw.unsqueeze(-1)
    return sw * step_mask


# ------------------------------------------------------------------ datasets and loaders
def unpack_batch(batch: Any) -> Batch:
    """A loader's batch -> (x, y, sample_weight): a tensor is x; a tuple/list is (x,), (x, y) or (x, y, w)."""
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return batch[0], None, None
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch[0], batch[1], batch[2]
        raise DataError(
            invalid("batch", f"a tuple of {len(batch)} items", "(x,), (x, y) or (x, y, sample_weight)")
        )
    if isinstance(batch, dict) and "x" in batch:
        return batch["x"], batch.get("y"), batch.get("sample_weight")
    return batch, None, None


class LoaderData:
    """An iterable of batches (a DataLoader, or a Dataset we wrap in one)."""

    def __init__(self, data: Any, batch_size: int, shuffle: bool, rank: int = 0, world: int = 1) -> None:
        self.sampler: Any = None
        if isinstance(data, torch.utils.data.Dataset) and not isinstance(
            data, torch.utils.data.IterableDataset
        ):
            if world > 1:
                self.sampler = torch.utils.data.DistributedSampler(
                    data, num_replicas=world, rank=rank, shuffle=shuffle
                )
                data = torch.utils.data.DataLoader(
                    data, batch_size=max(1, batch_size // world), sampler=self.sampler
                )
            else:
                data = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=shuffle)
        self.data = data
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.data)

    def num_batches(self, batch_size: int, world: int = 1) -> int | None:
        try:
            return len(self.data)
        except TypeError:
            return None

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        device: torch.device | None = None,
        rank: int = 0,
        world: int = 1,
    ) -> Iterator[Batch]:
        if self.sampler is not None:
            self.sampler.set_epoch(self.epoch)
        self.epoch += 1
        for raw in self.data:
            x, y, sw = unpack_batch(raw)
            mask = getattr(x, "_keras_mask", None)
            x = tree_map(lambda t: to_tensor(t).to(device, non_blocking=True), x)
            if mask is not None and isinstance(x, Tensor):
                x._keras_mask = mask.to(device)  # type: ignore[attr-defined]
            y = tree_map(lambda t: to_tensor(t).to(device, non_blocking=True), y)
            sw = None if sw is None else to_tensor(sw).to(device, torch.float32)
            yield x, y, sw


def is_loader(x: Any) -> bool:
    if isinstance(x, (torch.utils.data.Dataset, torch.utils.data.DataLoader)):
        return True
    return isinstance(x, Iterable) and not isinstance(x, (list, tuple, dict, np.ndarray, Tensor, str))


def adapt(
    x: Any,
    y: Any = None,
    sample_weight: Any = None,
    *,
    batch_size: int = 32,
    shuffle: bool = False,
    rank: int = 0,
    world: int = 1,
    what: str = "x",
) -> ArrayData | LoaderData:
    """Pick the adapter for what the user passed."""
    if is_loader(x):
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise ConfigError(
                    invalid(
                        name,
                        type(value).__name__,
                        f"None when {what} is a Dataset or DataLoader (it yields them)",
                    )
                )
        return LoaderData(x, batch_size, shuffle, rank, world)
    return ArrayData(x, y, sample_weight)
