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
) -> SequenceResult:
    """The shared loop: ``project(steps_in[t])`` is the step's input projection (B, 4F, *S')."""
    h0 = state0[0]
    B = h0.shape[0]
    spatial_state = tuple(h0.shape[1:])  # (F, *S')
    rmask = opts.recurrent_dropout_mask

    def step(x_t: Tensor, flat: State) -> tuple[Tensor, State]:
        # (B, F * prod(S')) <-> (B, F, *S'): scan masks flat states with a (B, 1) step mask.
        h, c = (s.view(B, *spatial_state) for s in flat)
        h_in = None if rmask is None else h * rmask
        h, c = conv_lstm_step(project(x_t), (h, c), p, h_in)
        new = (h.flatten(1), c.flatten(1))
        return new[0], new

    last, outputs, states = scan(
        step,
        steps_in,
        tuple(s.flatten(1) for s in state0),
        mask=opts.mask,
        reverse=opts.go_backwards,
        zero_output_for_mask=opts.zero_output_for_mask,
        return_sequences=opts.return_sequences,
    )
    outs = None if outputs is None else outputs.view(B, outputs.shape[1], *spatial_state)  # (B, T, F, *S')
    return SequenceResult(
        last.view(B, *spatial_state), outs, tuple(s.view(B, *spatial_state) for s in states)
    )


def run_conv_lstm_reference(
    p: ConvLSTMParams, x: Tensor, state0: State, opts: SequenceOptions
) -> SequenceResult:
    """One complete cell step per time step: the input convolution inside the loop."""
    dmask = opts.input_dropout_mask  # (B, C, *S), the same at every step

    def project(x_t: Tensor) -> Tensor:
        return conv_lstm_input(x_t if dmask is None else x_t * dmask, p)

    return _run(p, list(x.unbind(1)), project, state0, opts)


def run_conv_lstm_fast(p: ConvLSTMParams, x: Tensor, state0: State, opts: SequenceOptions) -> SequenceResult:
    """Every step's input convolution in one call, then the recurrent loop.

    .. note:: Channels-last memory (oneDNN's preferred layout) was measured here and lost: the
       recurrent convolution alone runs 1.5x faster on NHWC, but the whole step did not
       (ConvLSTM2D 8x10x32x32x1 -> 16, 1 thread: 1.09x slower training, 1.5x slower inference),
       so the kernel keeps NCHW.
    """
    if opts.input_dropout_mask is not None:
        x = x * opts.input_dropout_mask.unsqueeze(1)  # (B, C, *S) -> (B, 1, C, *S)
    B, T = x.shape[:2]
    # (B*T, C, *S), NCHW in memory: a channels_last input (the layer's movedim view) would make the
    # input convolution's output NHWC, and every gate sum would then mix layouts (7% slower training).
    frames = x.flatten(0, 1).contiguous()
    xp = conv_lstm_input(frames, p)  # (B*T, C, *S) -> (B*T, 4F, *S')
    xp = xp.view(B, T, *xp.shape[1:])  # (B, T, 4F, *S')
    # unbind, not xp[:, t]: indexing makes each step's backward zero-fill a (B, T, ...) gradient.
    return _run(p, list(xp.unbind(1)), lambda xp_t: xp_t, state0, opts)


def choose_conv_lstm_kernel(x: Tensor, use_fused: str | bool = "auto", unroll: bool = False) -> KernelChoice:
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
    choice = choose_conv_lstm_kernel(x, use_fused, unroll)
    run = run_conv_lstm_reference if choice.name == "reference" else run_conv_lstm_fast
    return run(p, x, state0, opts), choice
