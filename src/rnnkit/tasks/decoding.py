"""Step-by-step decoding of a recurrent LM: one token in, one step, next-token logits out.

The keyboard case (ANCHORS.md, Keyboards): calling a whole recurrent layer once per
token costs 2-11 ms (oneDNN repacks the weights on every call), so decoding runs the
cells' one-step equations on detached weights gathered and packed once
(:class:`StepWeights`, :mod:`rnnkit.kernels.step`: one product per LSTM layer, the
output layer as a contiguous W^T). :func:`lm_step` is the *only* place a step is computed.

A :class:`DecoderState` holds the recurrent state after a token sequence plus the
logits for the next token, and keeps one snapshot per consumed token, so editing the
text (backspace, a new word) rewinds to the common prefix and steps only through the
new tokens: a keystroke never re-runs the prefix.

Shapes: B batch (1 when serving one user), V vocabulary, E embedding, H units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rnnkit.core.cells import CellParams, State, cell_step
from rnnkit.kernels.step import PackedCell, PackedLinear, linear_step, pack_cell, pack_linear, packed_step

Tensor = torch.Tensor


@dataclass(frozen=True)
class StepWeights:
    """Detached weights of an LM, laid out for one step: embedding, cells, optional projection, output."""

    embedding: Tensor  # (V, E)
    cells: tuple[CellParams, ...]  # one per layer, input of layer 0 is E
    proj_weight: Tensor | None  # (E, H) when the tied output needs H -> E
    proj_bias: Tensor | None
    out_weight: Tensor  # (V, E) tied, or (V, H)
    out_bias: Tensor | None  # (V,)
    # int8 weights for the products (rnnkit.kernels.step): ~4x faster steps, a measured error.
    int8: bool = False
    # Packed once here, never per step (None where a cell cannot be packed, e.g. layer norm).
    packed_cells: tuple[PackedCell | None, ...] = ()
    packed_out: PackedLinear | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "packed_cells", tuple(pack_cell(p, self.int8) for p in self.cells))
        object.__setattr__(self, "packed_out", pack_linear(self.out_weight, self.out_bias, self.int8))

    def initial_states(self, batch: int = 1) -> list[State]:
        """Zero states per layer: (h,) or (h, c) for LSTM, each (B, H)."""
        out: list[State] = []
        for p in self.cells:
            z = self.embedding.new_zeros(batch, p.units)
            out.append((z, z.clone()) if p.kind == "lstm" else (z,))
        return out


def lm_step(w: StepWeights, tokens: Tensor, states: Sequence[State]) -> tuple[Tensor, list[State]]:
    """One step for a batch of tokens (B,): returns next-token logits (B, V) and the new states."""
    x = w.embedding[tokens]  # (B, E)
    new: list[State] = []
    for p, packed, s in zip(w.cells, w.packed_cells, states, strict=True):
        s = cell_step(x, s, p) if packed is None else packed_step(x, s, packed)  # each (B, H)
        new.append(s)
        x = s[0]
    if w.proj_weight is not None:
        x = F.linear(x, w.proj_weight, w.proj_bias)  # (B, H) -> (B, E)
    return linear_step(x, w.packed_out), new  # type: ignore[arg-type]  # (B, V)


class DecoderState:
    """The LM's state after a token sequence, advanced one token (one step) at a time.

    ``tokens`` are the ids consumed (after the start token); ``logits`` (V,) predict the next.
    """

    def __init__(self, weights: StepWeights, start_token: int) -> None:
        self.weights = weights
        self.start_token = start_token
        self.tokens: list[int] = []
        self.steps = 0  # lm_step calls so far: what a keystroke costs
        with torch.no_grad():
            logits, states = lm_step(weights, torch.tensor([start_token]), weights.initial_states(1))
        self.steps += 1
        # One snapshot per consumed token: snapshots[i] is the state after i tokens.
        self._snapshots: list[tuple[list[State], Tensor]] = [(states, logits[0])]

    @property
    def logits(self) -> Tensor:
        return self._snapshots[-1][1]

    @property
    def states(self) -> list[State]:
        return self._snapshots[-1][0]

    @torch.no_grad()
    def push(self, token: int) -> Tensor:
        """Consume one token (one step); returns the logits (V,) for the next."""
        logits, states = lm_step(self.weights, torch.tensor([token]), self.states)
        self.steps += 1
        self.tokens.append(int(token))
        self._snapshots.append((states, logits[0]))
        return logits[0]

    def rewind(self, n_tokens: int) -> None:
        """Go back to the state after the first ``n_tokens`` tokens (no computation)."""
        n_tokens = max(0, min(n_tokens, len(self.tokens)))
        del self.tokens[n_tokens:]
        del self._snapshots[n_tokens + 1 :]

    def sync(self, tokens: Sequence[int]) -> int:
        """Make the consumed tokens equal ``tokens``: rewind to the common prefix, step through
        the rest. Returns how many steps it took (0 when nothing changed)."""
        common = 0
        for a, b in zip(self.tokens, tokens, strict=False):
            if a != b:
                break
            common += 1
        self.rewind(common)
        for t in tokens[common:]:
            self.push(int(t))
        return len(tokens) - common

    def fork(self) -> DecoderState:
        """A copy sharing the weights and the (immutable) snapshots so far: for generation or beams."""
        other = object.__new__(DecoderState)
        other.weights, other.start_token, other.steps = self.weights, self.start_token, 0
        other.tokens = list(self.tokens)
        other._snapshots = list(self._snapshots)
        return other


def filter_logits(logits: Tensor, temperature: float, top_k: int | None, top_p: float | None) -> Tensor:
    """Temperature, then top-k, then nucleus (top-p) filtering; removed entries become -inf. (V,) -> (V,)."""
    logits = logits / temperature
    if top_k is not None and top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(-1)
        # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
        drop_sorted = cum - torch.softmax(sorted_logits, dim=-1) >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(0, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits
