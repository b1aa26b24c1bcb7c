"""Truncated backpropagation through time (TBPTT) for stateful recurrent models.

``fit`` needs nothing RNN-specific: a :class:`TBPTT` object is the data, and it
uses the two data hooks the loop calls (``on_epoch_begin(model)``,
``on_batch_begin(model, batch)``). Give it B parallel streams of length L; it
yields the chunks (B, k) in time order, and the stateful layers carry their
state from one chunk to the next, detached, so gradients stop at chunk edges
(Williams & Peng, 1990; Zaremba et al., 2014)::

    streams, length L, cut into chunks of k steps        batch i = x[:, i*k:(i+1)*k]
    stream 0: | chunk 0 | chunk 1 | chunk 2 | ...          state: carried  ->  ->
    stream 1: | chunk 0 | chunk 1 | chunk 2 | ...          grads: stop at each |

States are reset at each epoch's start; per-sample resets (``resets``) zero the
state of only the streams where a new, independent sequence begins, as
:meth:`TBPTT.from_sequences` arranges for a corpus of separate documents.

    model = Sequential([layers.Embedding(V, 64), layers.LSTM(256, stateful=True,
                        return_sequences=True), layers.Dense(V)])
    model.compile("adam", losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(TBPTT.from_tokens(ids, batch_size=20, chunk_len=35), epochs=6)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from rnnkit.errors import ConfigError, DataError, invalid
from rnnkit.models.data import to_tensor

Tensor = torch.Tensor


class TBPTT:
    """Chunks of B parallel streams, in time order, for stateful training and evaluation.

    x: (B, L, ...) inputs; y: (B, L, ...) targets; sample_weight: (B, L) (0 = padding);
    chunk_len: k steps per batch; resets: {chunk index: [stream indices]} whose state is
    zeroed before that chunk (chunk 0 always starts from a full reset).
    """

    def __init__(
        self,
        x: Any,
        y: Any = None,
        chunk_len: int = 35,
        *,
        sample_weight: Any = None,
        resets: Mapping[int, Sequence[int]] | None = None,
    ) -> None:
        if isinstance(chunk_len, bool) or not isinstance(chunk_len, int) or chunk_len < 1:
            raise ConfigError(invalid("chunk_len", chunk_len, "an integer >= 1"))
        self.x = to_tensor(x)
        self.y = None if y is None else to_tensor(y)
        self.sample_weight = None if sample_weight is None else to_tensor(sample_weight).float()
        if self.x.dim() < 2:
            raise DataError(invalid("x", f"an array of shape {tuple(self.x.shape)}", "(streams, steps, ...)"))
        for name, t in (("y", self.y), ("sample_weight", self.sample_weight)):
            if t is not None and tuple(t.shape[:2]) != tuple(self.x.shape[:2]):
                raise DataError(
                    invalid(
                        name,
                        f"an array of shape {tuple(t.shape)}",
                        f"(streams, steps) = {tuple(self.x.shape[:2])}",
                    )
                )
        self.chunk_len = chunk_len
        self.resets = {int(k): list(v) for k, v in (resets or {}).items()}

    # ---------------------------------------------------------------- constructors
    @classmethod
    def from_tokens(cls, ids: Any, batch_size: int, chunk_len: int = 35) -> TBPTT:
        """A language-model stream: ``batchify`` into B columns; targets are the next token."""
        from rnnkit.data.language_modeling import batchify

        cols = batchify(ids, batch_size).t()  # (S // B, B) -> (B, S // B): batch first
        return cls(cols[:, :-1], cols[:, 1:], chunk_len)

    @classmethod
    def from_sequences(
        cls, sequences: Sequence[Any], targets: Sequence[Any], batch_size: int, chunk_len: int = 35
    ) -> TBPTT:
        """Independent sequences laid end to end in ``batch_size`` streams, each starting at a chunk
        edge with its stream's state reset; padding to the next edge gets sample weight 0."""
        if len(sequences) != len(targets):
            raise DataError(
                invalid("targets", f"{len(targets)} sequences", f"one per sequence ({len(sequences)})")
            )
        lanes: list[list[int]] = [[] for _ in range(batch_size)]  # sequence ids per stream
        used = [0] * batch_size  # chunks used per stream
        for i, seq in enumerate(sequences):
            lane = min(range(batch_size), key=lambda b: used[b])  # greedy: the shortest stream
            lanes[lane].append(i)
            used[lane] += math.ceil(len(seq) / chunk_len)
        n_chunks = max(used)
        L = n_chunks * chunk_len
        x0, y0 = to_tensor(sequences[0]), to_tensor(targets[0])
        x = torch.zeros((batch_size, L, *x0.shape[1:]), dtype=x0.dtype)
        y = torch.zeros((batch_size, L, *y0.shape[1:]), dtype=y0.dtype)
        w = torch.zeros((batch_size, L))
        resets: dict[int, list[int]] = {}
        for b, ids in enumerate(lanes):
            chunk = 0
            for i in ids:
                s, t = to_tensor(sequences[i]), to_tensor(targets[i])
                start = chunk * chunk_len
                x[b, start : start + len(s)] = s
                y[b, start : start + len(t)] = t
                w[b, start : start + len(s)] = 1.0
                if chunk:
                    resets.setdefault(chunk, []).append(b)
                chunk += math.ceil(len(s) / chunk_len)
        return cls(x, y, chunk_len, sample_weight=w, resets=resets)

    # ---------------------------------------------------------------- what fit uses
    def __len__(self) -> int:
        return math.ceil(self.x.shape[1] / self.chunk_len)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor | None, Tensor | None]]:
        for start in range(0, self.x.shape[1], self.chunk_len):
            sl = slice(start, start + self.chunk_len)
            yield (
                self.x[:, sl],
                None if self.y is None else self.y[:, sl],
                None if self.sample_weight is None else self.sample_weight[:, sl],
            )

    def on_epoch_begin(self, model: Any) -> None:
        """A new pass over the streams starts from zero states."""
        model.reset_states()

    def on_batch_begin(self, model: Any, batch: int) -> None:
        """Zero the state of the streams where an independent sequence starts at this chunk."""
        indices = self.resets.get(batch)
        if indices:
            model.reset_states(indices=indices)


def streams_to_array(chunks: Any, n_streams: int) -> np.ndarray:
    """``model.predict(tbptt)`` output back to (B, L, ...): chunks come stacked on axis 0
    (an array when all chunks have k steps, a list of (B, k_i, ...) arrays when the last is shorter)."""
    if isinstance(chunks, list):
        return np.concatenate(chunks, axis=1)
    arr = np.asarray(chunks)
    # (n_chunks * B, k, ...) -> (n_chunks, B, k, ...) -> (B, n_chunks * k, ...)
    arr = arr.reshape(arr.shape[0] // n_streams, n_streams, *arr.shape[1:])
    return np.concatenate(list(arr), axis=1)
