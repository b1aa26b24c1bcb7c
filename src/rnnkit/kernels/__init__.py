"""Interchangeable ways to run a cell over a whole sequence, and the choice between them.

- ``reference``: :mod:`rnnkit.kernels.reference`, a readable loop; runs everything.
- ``fused``: :mod:`rnnkit.kernels.fused`, PyTorch's C++/cuDNN kernels; runs the
  configurations :func:`fused_blocker` and :func:`mask_blocker` allow.

:func:`run_sequence` picks one (``use_fused="auto"|True|False``) and returns a
:class:`KernelChoice` saying which ran and why; ``use_fused=True`` on an
ineligible configuration raises :class:`~rnnkit.errors.KernelError` naming the blocker.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnkit.core.cells import CellParams, State
from rnnkit.errors import ConfigError, KernelError, invalid
from rnnkit.kernels.fused import fused_blocker, mask_blocker, run_fused
from rnnkit.kernels.reference import SequenceOptions, SequenceResult, run_reference

__all__ = [
    "KernelChoice",
    "SequenceOptions",
    "SequenceResult",
    "check_use_fused",
    "fused_blocker",
    "mask_blocker",
    "run_fused",
    "run_reference",
    "run_sequence",
]

USE_FUSED_VALUES = ("auto", True, False)


@dataclass(frozen=True)
class KernelChoice:
    """Which kernel ran (``"reference"``, ``"fused:onednn"``, ``"fused:aten"``, ``"fused:cudnn"``) and why."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


def check_use_fused(value: object) -> str | bool:
    if value not in USE_FUSED_VALUES or not isinstance(value, (str, bool)):
        raise ConfigError(invalid("use_fused", value, USE_FUSED_VALUES))
    return value


def _fused_name(p: CellParams, x: torch.Tensor) -> str:
    if x.is_cuda:
        return "fused:cudnn"
    onednn = p.kind == "lstm" and x.dtype == torch.float32 and torch.backends.mkldnn.is_available()
    return "fused:onednn" if onednn else "fused:aten"


def run_sequence(
    p: CellParams,
    x: torch.Tensor,
    state0: State,
    opts: SequenceOptions,
    *,
    use_fused: str | bool = "auto",
    unroll: bool = False,
) -> tuple[SequenceResult, KernelChoice]:
    """Run cell ``p`` over x (B, T, D) with the fastest eligible kernel."""
    if use_fused is False:
        return run_reference(p, x, state0, opts), KernelChoice("reference", "use_fused=False")
    blocker = fused_blocker(p, opts, unroll=unroll)
    if blocker is None and opts.mask is not None:
        blocker = mask_blocker(opts.mask)
    if blocker is not None:
        if use_fused is True:
            raise KernelError(
                f"use_fused=True cannot run this layer: {blocker}. "
                "Pass use_fused='auto' to fall back to the reference kernel."
            )
        return run_reference(p, x, state0, opts), KernelChoice("reference", blocker)
    reason = "eligible" + (" (right-padded mask)" if opts.mask is not None else "")
    return run_fused(p, x, state0, opts), KernelChoice(_fused_name(p, x), reason)
