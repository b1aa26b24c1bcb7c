"""Kernels that run a ConvLSTM cell (:mod:`rnnkit.core.conv_cells`) over a whole sequence.

Shapes: x (B, T, C, *S) channels first per step; states h, c (B, F, *S'); outputs
(B, T, F, *S') in processing order (reversed with ``go_backwards``, as Keras).

- ``reference``: the readable loop, one full cell step (input convolution, recurrent
  convolution, gates) per time step; the oracle of the tests.
- ``fast:batched-input``: the input convolution does not depend on the state, so the T steps'
  convolutions run as one call over (B*T, C, *S) -- one large convolution instead of T small
  ones, the same move as the input projection of :mod:`rnnkit.kernels.reference` -- then the
  recurrent loop only convolves h.

There is no fused kernel (torch.nn has no ConvLSTM), so ``use_fused=True`` and
``force("fused")`` raise :class:`~rnnkit.errors.KernelError`. Masks (any padding), input and
recurrent dropout and ``go_backwards`` are served by both kernels through :func:`rnnkit.core.scan.scan`,
which carries the states flattened to (B, F * prod(S')) so its (B, 1) step mask broadcasts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from rnnkit.core.conv_cells import ConvLSTMParams, State, conv_lstm_input, conv_lstm_step
from rnnkit.core.scan import scan
from rnnkit.errors import KernelError
from rnnkit.kernels import KernelChoice, SequenceOptions, SequenceResult, forced_kernel

Tensor = torch.Tensor

FAST_NAME = "fast:batched-input"


def _run(
    p: ConvLSTMParams,
    steps_in: list[Tensor],
    project: Callable[[Tensor], Tensor],
    state0: State,
    opts: SequenceOptions,
    channels_last: bool = False,
) -> SequenceResult:
    """The shared loop: ``project(steps_in[t])`` is the step's input projection (B, 4F, *S').

    scan masks states with a (B, 1) step mask, so they travel flat, (B, prod(S') * F). With
    ``channels_last`` the flat order is (*S', F): the states are then channels-last in memory,
    the layout oneDNN's CPU convolutions run fastest on, and flattening them is free.
    """
    h0 = state0[0]
    B, F = h0.shape[:2]
    spatial = tuple(h0.shape[2:])  # S'

    def to_flat(t: Tensor) -> Tensor:  # (B, F, *S') -> (B, prod(S') * F) or (B, F * prod(S'))
        return t.movedim(1, -1).reshape(B, -1) if channels_last else t.reshape(B, -1)

    def from_flat(t: Tensor) -> Tensor:  # the inverse, as a view
        return t.view(B, *spatial, F).movedim(-1, 1) if channels_last else t.view(B, F, *spatial)

    rmask = opts.recurrent_dropout_mask

    def step(x_t: Tensor, flat: State) -> tuple[Tensor, State]:
        h, c = (from_flat(s) for s in flat)
        h_in = None if rmask is None else h * rmask
        h, c = conv_lstm_step(project(x_t), (h, c), p, h_in)
        new = (to_flat(h), to_flat(c))
        return new[0], new

    last, outputs, states = scan(
        step,
        steps_in,
        tuple(to_flat(s) for s in state0),
        mask=opts.mask,
        reverse=opts.go_backwards,
        zero_output_for_mask=opts.zero_output_for_mask,
        return_sequences=opts.return_sequences,
    )
    outs = None
    if outputs is not None:  # (B, T, flat) -> (B, T, F, *S')
        T = outputs.shape[1]
        outs = (
            outputs.view(B, T, *spatial, F).movedim(-1, 2)
            if channels_last
            else outputs.view(B, T, F, *spatial)
        )
    return SequenceResult(from_flat(last), outs, tuple(from_flat(s) for s in states))


def run_conv_lstm_reference(
    p: ConvLSTMParams, x: Tensor, state0: State, opts: SequenceOptions
) -> SequenceResult:
    """One complete cell step per time step: the input convolution inside the loop."""
    dmask = opts.input_dropout_mask  # (B, C, *S), the same at every step

    def project(x_t: Tensor) -> Tensor:
        return conv_lstm_input(x_t if dmask is None else x_t * dmask, p)

    return _run(p, list(x.unbind(1)), project, state0, opts)


def use_channels_last(x: Tensor) -> bool:
    """Channels-last convolutions for 2-D ConvLSTM on CPU: oneDNN runs the recurrent 3x3 convolution
    1.5x (training) to 2.4x (inference) faster on NHWC than on NCHW (8x16x32x32 -> 64 filters, 1 thread)."""
    return x.dim() == 5 and x.device.type == "cpu"


def run_conv_lstm_fast(p: ConvLSTMParams, x: Tensor, state0: State, opts: SequenceOptions) -> SequenceResult:
    """Every step's input convolution in one call, then the recurrent loop (channels-last on CPU, 2-D)."""
    if opts.input_dropout_mask is not None:
        x = x * opts.input_dropout_mask.unsqueeze(1)  # (B, C, *S) -> (B, 1, C, *S)
    B, T = x.shape[:2]
    frames = x.flatten(0, 1)  # (B*T, C, *S)
    nhwc = use_channels_last(x)
    if nhwc:  # a layout change only: same values, same gradients
        fmt = torch.channels_last
        frames = frames.contiguous(memory_format=fmt)  # free when the layer's input was channels_last
        p = replace(
            p,
            weight_ih=p.weight_ih.contiguous(memory_format=fmt),
            weight_hh=p.weight_hh.contiguous(memory_format=fmt),
        )
    xp = conv_lstm_input(frames, p)  # (B*T, C, *S) -> (B*T, 4F, *S')
    xp = xp.view(B, T, *xp.shape[1:])  # (B, T, 4F, *S')
    # unbind, not xp[:, t]: indexing makes each step's backward zero-fill a (B, T, ...) gradient.
    return _run(p, list(xp.unbind(1)), lambda xp_t: xp_t, state0, opts, channels_last=nhwc)


def choose_conv_lstm_kernel(use_fused: str | bool = "auto", unroll: bool = False) -> KernelChoice:
    """Which kernel runs and why: forced, else reference for ``unroll``, else the fast one."""
    forced = forced_kernel()
    if forced == "fused" or (forced is None and use_fused is True):
        why = "forced" if forced else "use_fused=True"
        raise KernelError(
            f"{why} cannot run a ConvLSTM layer: there is no fused ConvLSTM kernel (torch.nn has none). "
            "Pass use_fused='auto' to run rnnkit's own kernels."
        )
    if forced is not None:
        return KernelChoice("reference" if forced == "reference" else FAST_NAME, "forced")
    if unroll:
        return KernelChoice("reference", "unroll=True")
    return KernelChoice(FAST_NAME, "no fused ConvLSTM kernel; every step's input convolution in one call")


def run_conv_lstm(
    p: ConvLSTMParams,
    x: Tensor,
    state0: State,
    opts: SequenceOptions,
    *,
    use_fused: str | bool = "auto",
    unroll: bool = False,
) -> tuple[SequenceResult, KernelChoice]:
    """Run the ConvLSTM cell ``p`` over x (B, T, C, *S) with the kernel ``choose_conv_lstm_kernel`` picks."""
    choice = choose_conv_lstm_kernel(use_fused, unroll)
    run = run_conv_lstm_reference if choice.name == "reference" else run_conv_lstm_fast
    return run(p, x, state0, opts), choice
