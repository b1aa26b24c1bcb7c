"""Language-model batching: stateful batchify + BPTT windows, and sliding next-token windows.

Shape symbols: S the stream length (tokens), B batch columns, T steps per window.

Two ways to train a language model on one long token stream:

* **Stateful** (Zaremba et al. 2014; pytorch/examples ``word_language_model``): cut the
  stream into B columns, walk down them T steps at a time, and carry the hidden state
  from one window to the next (detached, so backprop stops at the window edge).
  Every token is seen once per epoch and the state spans the whole column.
* **Sliding windows**: independent (input, target) pairs of T tokens, shuffled freely;
  the state starts from zero in every window.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from rnnkit.errors import ConfigError, DataError, invalid


def _as_stream(ids: Sequence[int] | np.ndarray | torch.Tensor) -> torch.Tensor:
    stream = torch.as_tensor(np.asarray(ids) if not isinstance(ids, torch.Tensor) else ids, dtype=torch.long)
    if stream.dim() != 1:
        raise DataError(invalid("ids", f"a tensor of shape {tuple(stream.shape)}", "a 1-D token stream"))
    return stream


def batchify(ids: Sequence[int] | np.ndarray | torch.Tensor, batch_size: int) -> torch.Tensor:
    """Arrange a token stream into ``batch_size`` columns: returns (S // B, B).

    Starting from sequential data, batchify arranges the dataset into columns.
    For instance, with the alphabet as the sequence and batch size 4, we'd get::

        ┌ a g m s ┐
        │ b h n t │
        │ c i o u │
        │ d j p v │
        │ e k q w │
        └ f l r x ┘

    These columns are treated as independent by the model, which means that the
    dependence of e.g. 'g' on 'f' can not be learned, but allows more efficient
    batch processing. The tail that does not fill a whole row ('y', 'z') is dropped.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(invalid("batch_size", batch_size, "an integer >= 1"))
    stream = _as_stream(ids)
    n_rows = stream.numel() // batch_size
    if n_rows < 2:
        raise DataError(
            f"a stream of {stream.numel()} tokens is too short for batch_size={batch_size}: "
            f"each column needs at least 2 tokens (an input and its target)."
        )
    # (S,) -> (B, S // B) -> (S // B, B): column j holds a contiguous slice of the stream.
    return stream[: n_rows * batch_size].view(batch_size, n_rows).t().contiguous()


def get_bptt_batch(source: torch.Tensor, i: int, bptt: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The window starting at row ``i`` of a batchified source: (x, y), each (T, B).

    With the columns above, bptt=2 and i=0, we'd get::

        x = ┌ a g m s ┐   y = ┌ b h n t ┐
            └ b h n t ┘       └ c i o u ┘

    ``y`` is ``x`` shifted one step down the column: the next token of each position.
    The last window is shorter when (rows - 1) is not a multiple of bptt. Transpose to
    (B, T) for batch_first models.
    """
    if not isinstance(bptt, int) or bptt < 1:
        raise ConfigError(invalid("bptt", bptt, "an integer >= 1"))
    if not 0 <= i < len(source) - 1:
        raise ConfigError(invalid("i", i, f"a row index in [0, {len(source) - 2}]"))
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i : i + seq_len], source[i + 1 : i + 1 + seq_len]


def bptt_batches(
    source: torch.Tensor, bptt: int, *, batch_first: bool = False
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """All windows of a batchified source in order: (x, y) of shape (T, B), or (B, T) if batch_first.

    The order matters: stateful training carries the hidden state from one window
    to the next, so these windows must not be shuffled.
    """
    for i in range(0, len(source) - 1, bptt):
        x, y = get_bptt_batch(source, i, bptt)
        yield (x.t().contiguous(), y.t().contiguous()) if batch_first else (x, y)


def sliding_windows(
    ids: Sequence[int] | np.ndarray | torch.Tensor,
    length: int,
    *,
    stride: int | None = None,
    target: str = "sequence",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Independent next-token training pairs from a stream.

    Returns ``x`` (N, T) and ``y``: (N, T) with ``target="sequence"`` (``y[n, t]`` is the
    token after ``x[n, t]``), or (N,) with ``target="last"`` (only the token after the
    window, as in Keras's char-LSTM text generation example). ``stride`` defaults to
    ``length`` (non-overlapping windows); ``stride=1`` gives every window.
    """
    if not isinstance(length, int) or length < 1:
        raise ConfigError(invalid("length", length, "an integer >= 1"))
    stride = length if stride is None else stride
    if not isinstance(stride, int) or stride < 1:
        raise ConfigError(invalid("stride", stride, "an integer >= 1"))
    if target not in ("sequence", "last"):
        raise ConfigError(invalid("target", target, ("sequence", "last")))
    stream = _as_stream(ids)
    if stream.numel() < length + 1:
        raise DataError(
            f"a stream of {stream.numel()} tokens is too short for windows of length={length}: "
            f"need at least {length + 1} (the inputs plus one target)."
        )
    # unfold gives views (N, T + 1) without copying the stream; x and y are the two offset slices.
    windows = stream.unfold(0, length + 1, stride)  # (N, T + 1)
    x = windows[:, :-1]  # (N, T)
    y = windows[:, 1:] if target == "sequence" else windows[:, -1]  # (N, T) or (N,)
    return x.contiguous(), y.contiguous()
