"""Interchangeable ways to run a cell over a whole sequence, and the choice between them.

- ``reference``: :mod:`rnnkit.kernels.reference`, a readable loop; runs everything.
- ``fused``: :mod:`rnnkit.kernels.fused`, PyTorch's C++/cuDNN kernels; runs the
  configurations :func:`fused_blocker` and :func:`mask_blocker` allow.
- ``fast``: :mod:`rnnkit.kernels.fast`, rnnkit's loop with hand-written BPTT; runs
  what the fused kernels refuse (masks anywhere, recurrent dropout, zoneout, other
  activations) and whatever :func:`fast_blocker` allows. Its time loop is C++
  (``fast:cpp``, :mod:`rnnkit.kernels.native`) where that serves the cell, else Python
  (``fast:python``).
- minGRU/minLSTM (:mod:`rnnkit.kernels.min_scan`) have kernels of the same three families:
  ``parallel-scan`` (fused), ``linear-scan:cpp``/``linear-scan:python`` (fast) and
  ``sequential`` (reference); the same decision serves them.

:func:`run_sequence` picks one and returns a :class:`KernelChoice` saying which ran
and why. ``use_fused="auto"`` (the default) takes the fused kernel when eligible --
except GRU and SimpleRNN on CPU, where ``fast:cpp`` beats ATen's loop -- else the fast
one, else the reference loop; ``use_fused=True`` raises
:class:`~rnnkit.errors.KernelError` naming what blocks the fused kernel;
``use_fused=False`` never takes it. ``with force("reference"):`` pins a kernel for
tests and benchmarks.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from rnnkit.core.cells import CellParams, State
from rnnkit.errors import ConfigError, KernelError, invalid
from rnnkit.kernels.fast import fast_blocker, fast_loop, run_fast
from rnnkit.kernels.fused import fused_blocker, mask_blocker, pair_blocker, run_fused, run_fused_pair
from rnnkit.kernels.min_scan import MIN_KERNELS, MinParams, linear_scan_name, run_min
from rnnkit.kernels.reference import SequenceOptions, SequenceResult, run_reference

__all__ = [
    "KERNELS",
    "KernelChoice",
    "MinParams",
    "SequenceOptions",
    "SequenceResult",
    "check_use_fused",
    "choose_kernel",
    "fast_blocker",
    "force",
    "forced_kernel",
    "fused_blocker",
    "mask_blocker",
    "pair_blocker",
    "run_fast",
    "run_fused",
    "run_fused_pair",
    "run_reference",
    "run_sequence",
]

USE_FUSED_VALUES = ("auto", True, False)
KERNELS = ("reference", "fast", "fused")
_FORCED: contextvars.ContextVar[str | None] = contextvars.ContextVar("rnnkit_forced_kernel", default=None)


@dataclass(frozen=True)
class KernelChoice:
    """Which kernel ran (reference, fast:cpp, fast:python, fused:onednn, fused:aten, fused:cudnn) and why."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


def check_use_fused(value: object) -> str | bool:
    if value not in USE_FUSED_VALUES or not isinstance(value, (str, bool)):
        raise ConfigError(invalid("use_fused", value, USE_FUSED_VALUES))
    return value


@contextlib.contextmanager
def force(kernel: str) -> Iterator[None]:
    """Run every recurrent layer in this block with ``kernel`` (it must be eligible, else KernelError)."""
    if kernel not in KERNELS:
        raise ConfigError(invalid("kernel", kernel, KERNELS))
    token = _FORCED.set(kernel)
    try:
        yield
    finally:
        _FORCED.reset(token)


def forced_kernel() -> str | None:
    """The kernel pinned by an enclosing :func:`force` block, or None (for kernels defined elsewhere)."""
    return _FORCED.get()


def _fused_name(p: CellParams, x: torch.Tensor) -> str:
    if x.is_cuda:
        return "fused:cudnn"
    onednn = p.kind == "lstm" and x.dtype == torch.float32 and torch.backends.mkldnn.is_available()
    return "fused:onednn" if onednn else "fused:aten"


def _fused_block(p: CellParams, opts: SequenceOptions, unroll: bool) -> str | None:
    blocker = fused_blocker(p, opts, unroll=unroll)
    if blocker is None and opts.mask is not None:
        blocker = mask_blocker(opts.mask)
    return blocker


def _cpp_beats_aten(p: CellParams, x: torch.Tensor, opts: SequenceOptions) -> bool:
    """PyTorch has no oneDNN GRU or SimpleRNN on CPU, only ATen's per-step loop with an autograd
    graph per step: rnnkit's C++ loop trains 0.72-0.99x its time (bench/results/speed-cpu.json,
    both sizes, 1 and 2 threads)."""
    if x.is_cuda:  # cuDNN is faster
        return False
    # oneDNN's LSTM is faster -- unless a right-padded mask with the final cell state asked for
    # makes the fused kernel pack the batch, which leaves oneDNN for ATen's packed loop (7.1x
    # torch.nn's dense time at 64 x 200 x 256 -> 512, 1 thread; the C++ loop: 0.88x).
    if p.kind == "lstm" and (opts.mask is None or not opts.need_states):
        return False
    return fast_blocker(p, opts) is None and fast_loop(p, x, opts) == "cpp"


def _choose_min(x: torch.Tensor, use_fused: str | bool, unroll: bool) -> KernelChoice:
    """The min-RNNs' kernel: forced, else reference for unroll, fused for use_fused=True, fast for
    False; "auto" takes the parallel scan on CUDA and the time-order scan on CPU. Every family
    runs every min-RNN configuration, so nothing here raises."""
    forced = _FORCED.get()
    if forced is not None:
        family, why = forced, "forced"
    elif unroll:
        family, why = "reference", "unroll=True"
    elif use_fused is True:
        family, why = "fused", "use_fused=True"
    elif use_fused is False:
        family, why = "fast", "use_fused=False"
    elif x.is_cuda:
        family, why = "fused", "CUDA: log-space scan, parallel over time"
    else:
        family, why = "fast", "CPU: the recurrence in time order (logcumsumexp is a scalar loop here)"
    if family != "fast":
        return KernelChoice(MIN_KERNELS[family], why)
    name, blocker = linear_scan_name(x)
    return KernelChoice(name, why if blocker is None else f"{why}; C++ pass: {blocker}")


def choose_kernel(
    p: CellParams | MinParams,
    x: torch.Tensor,
    opts: SequenceOptions,
    *,
    use_fused: str | bool = "auto",
    unroll: bool = False,
) -> KernelChoice:
    """Which kernel :func:`run_sequence` runs for this configuration, and why: the fastest
    eligible one, or the one pinned by :func:`force`. Raises KernelError where a forced kernel,
    or ``use_fused=True``, cannot run it."""
    if isinstance(p, MinParams):
        return _choose_min(x, use_fused, unroll)
    forced = _FORCED.get()
    if forced == "reference":
        return KernelChoice("reference", "forced")
    if forced is not None:
        blocker = fast_blocker(p, opts) if forced == "fast" else _fused_block(p, opts, unroll)
        if blocker is not None:
            raise KernelError(f"kernel {forced!r} was forced but cannot run this layer: {blocker}.")
        name = f"fast:{fast_loop(p, x, opts)}" if forced == "fast" else _fused_name(p, x)
        return KernelChoice(name, "forced")
    if use_fused is not False:
        blocker = _fused_block(p, opts, unroll)
        if blocker is None and use_fused == "auto" and _cpp_beats_aten(p, x, opts):
            why = "faster than ATen's per-step GRU/SimpleRNN loop on CPU"
            if p.kind == "lstm":
                why = "faster than the packed fused LSTM (a right-padded mask and the final states)"
            return KernelChoice("fast:cpp", why)
        if blocker is None:
            reason = "eligible" + (" (right-padded mask)" if opts.mask is not None else "")
            return KernelChoice(_fused_name(p, x), reason)
        if use_fused is True:
            raise KernelError(
                f"use_fused=True cannot run this layer: {blocker}. "
                "Pass use_fused='auto' to fall back to the reference kernel."
            )
    else:
        blocker = "use_fused=False"
    if unroll:
        return KernelChoice("reference", "unroll=True")
    fast_block = fast_blocker(p, opts)
    if fast_block is None:
        return KernelChoice(f"fast:{fast_loop(p, x, opts)}", f"fused kernel refused: {blocker}")
    return KernelChoice("reference", f"{blocker}; fast kernel: {fast_block}")


_RUNNERS = {"reference": run_reference, "fast": run_fast, "fused": run_fused}


def run_sequence(
    p: CellParams | MinParams,
    x: torch.Tensor,
    state0: State,
    opts: SequenceOptions,
    *,
    use_fused: str | bool = "auto",
    unroll: bool = False,
) -> tuple[SequenceResult, KernelChoice]:
    """Run cell ``p`` over x (B, T, D) with the kernel :func:`choose_kernel` picks."""
    choice = choose_kernel(p, x, opts, use_fused=use_fused, unroll=unroll)
    if isinstance(p, MinParams):
        return run_min(p, x, state0, opts, choice.name), choice
    return _RUNNERS[choice.name.split(":")[0]](p, x, state0, opts), choice
