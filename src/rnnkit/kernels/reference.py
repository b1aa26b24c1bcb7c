"""The reference kernel: the readable loop every other kernel is tested against.

It runs any built-in cell (with every flag: masks anywhere, dropout and recurrent
dropout, layer norm, zoneout, any activation) through :func:`rnnkit.core.scan.scan`.
Shapes: x (B, T, D); states (B, H); outputs (B, T, H).

Speed notes (why it is not slower than it has to be): the input projection of
all T steps is one matrix product before the loop, and the per-step inputs come
from ``unbind`` -- indexing ``xp[:, t]`` instead makes each step's backward
zero-fill a gradient the size of the whole sequence (cost ~ T^2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnkit.core.cells import STEPS, CellParams, State, input_projection
from rnnkit.core.scan import scan

Tensor = torch.Tensor


@dataclass(frozen=True)
class SequenceOptions:
    """How a layer runs a cell over a sequence; shared by every kernel."""

    mask: Tensor | None = None  # (B, T) bool, True = a real step
    go_backwards: bool = False
    zero_output_for_mask: bool = False
    return_sequences: bool = True
    training: bool = False
    input_dropout_mask: Tensor | None = None  # (B, D), already scaled by 1 / (1 - rate)
    recurrent_dropout_mask: Tensor | None = None  # (B, H), likewise
    zoneout: float = 0.0
    generator: torch.Generator | None = None
    # False when the caller will not read the final states (no return_state, not stateful):
    # lets a kernel skip work that only the final LSTM cell state needs.
    need_states: bool = True


@dataclass(frozen=True)
class SequenceResult:
    last_output: Tensor  # (B, H)
    outputs: Tensor | None  # (B, T, H) in processing order, or None
    states: State


def zoneout_mix(new: Tensor, old: Tensor, rate: float, training: bool, gen: torch.Generator | None) -> Tensor:
    """Zoneout: keep each unit's old value with probability ``rate`` (training), else the expectation."""
    if training:
        keep = torch.rand(new.shape, device=new.device, dtype=new.dtype, generator=gen) < rate
        return torch.where(keep, old, new)
    return new + rate * (old - new)


def run_reference(p: CellParams, x: Tensor, state0: State, opts: SequenceOptions) -> SequenceResult:
    """Run the cell ``p`` over x (B, T, D) from ``state0`` with Keras's loop semantics."""
    if opts.input_dropout_mask is not None:
        x = x * opts.input_dropout_mask.unsqueeze(1)  # (B, D) -> (B, 1, D): the same mask every step
    xp = input_projection(x, p)  # (B, T, G): every step's input projection in one product
    step_fn = STEPS[p.kind]
    rmask = opts.recurrent_dropout_mask
    rate = opts.zoneout

    def step(xp_t: Tensor, state: State) -> tuple[Tensor, State]:
        h_in = None if rmask is None else state[0] * rmask
        new = step_fn(xp_t, state, p, h_in)
        if rate:
            h = zoneout_mix(new[0], state[0], rate, opts.training, opts.generator)
            new = (h, *new[1:])
        return new[0], new

    last, outputs, states = scan(
        step,
        xp.unbind(1),  # (B, T, G) -> T x (B, G)
        state0,
        mask=opts.mask,
        reverse=opts.go_backwards,
        zero_output_for_mask=opts.zero_output_for_mask,
        return_sequences=opts.return_sequences,
    )
    return SequenceResult(last, outputs, states)
