"""The one reference time loop, with Keras's semantics for masks and direction.

``scan(step, inputs, state0, ...)`` runs ``out_t, state_t = step(x_t, state_{t-1})``
over the T entries of ``inputs`` and returns ``(last_output, outputs, state_T)``.

- ``mask`` (B, T) bool: at a masked step the state carries over unchanged and the
  output repeats the previous step's (zeros before the first valid step), or is
  zero when ``zero_output_for_mask`` -- Keras's generic ``backend.rnn``. This
  works for any padding: left, right or holes.
- ``reverse`` (Keras's ``go_backwards``): steps run from T-1 down to 0 and the
  outputs are stacked in the order they were produced (reversed time), as Keras does.
- ``last_output`` is the output of the final step taken, after masking.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from rnnkit.errors import ShapeError

Tensor = torch.Tensor
State = tuple[Tensor, ...]
Step = Callable[[Tensor, State], tuple[Tensor, State]]


def scan(
    step: Step,
    inputs: Sequence[Tensor],
    state0: State,
    *,
    mask: Tensor | None = None,
    reverse: bool = False,
    zero_output_for_mask: bool = False,
    return_sequences: bool = True,
) -> tuple[Tensor, Tensor | None, State]:
    """Run ``step`` over time. inputs: T tensors (B, ...); mask: (B, T) bool or None."""
    T = len(inputs)
    order = range(T - 1, -1, -1) if reverse else range(T)
    # (B, T) -> T tensors of (B, 1): broadcast against (B, H) outputs and states.
    mask_steps = None if mask is None else mask.unsqueeze(-1).unbind(1)
    state = state0
    out: Tensor | None = None
    outputs: list[Tensor] = []
    for t in order:
        new_out, new_state = step(inputs[t], state)
        if mask_steps is not None:
            m = mask_steps[t]
            state = tuple(torch.where(m, n, s) for n, s in zip(new_state, state, strict=True))
            fill = torch.zeros_like(new_out) if (zero_output_for_mask or out is None) else out
            out = torch.where(m, new_out, fill)
        else:
            state, out = new_state, new_out
        if return_sequences:
            outputs.append(out)
    if out is None:
        raise ShapeError("inputs has 0 time steps: expected at least 1.")
    stacked = torch.stack(outputs, dim=1) if return_sequences else None  # T x (B, H) -> (B, T, H)
    return out, stacked, state
