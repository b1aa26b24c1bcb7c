"""The kernels of minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?").

Both cells' gates depend on x_t only, so a layer is one input projection followed by a
linear recurrence h_t = a_t * h_{t-1} + b_t whose a_t, b_t come from the projection:

minGRU (G = 2, projection rows [z, h])::

    log a_t = log(1 - sigmoid(k)) = -softplus(k)
    log b_t = log(sigmoid(k) * g(v)) = -softplus(-k) + log g(v)

minLSTM (G = 3, rows [f, i, h]; f' = f / (f + i), i' = i / (f + i), paper sec. 3.2.3)::

    d = log i - log f = softplus(-k_f) - softplus(-k_i)
    log a_t = log f'_t = -softplus(d)      log b_t = log i'_t + log g(v) = -softplus(-d) + log g(v)

with g(v) = v + 0.5 for v >= 0, sigmoid(v) otherwise (positive, so log g exists).

Three ways to run the recurrence, under the names every other cell's kernels use
(:func:`rnnkit.kernels.choose_kernel` picks one; ``with kernels.force(...)`` and
``use_fused`` reach these layers as they reach LSTM/GRU):

- ``fused`` -> ``parallel-scan``: :func:`~rnnkit.core.parallel_scan.log_space_scan`, every
  h_t in two cumulative ops over T -- the GPU path, where time runs in parallel.
- ``fast`` -> ``linear-scan:cpp`` (``csrc/min_scan.cpp``: gates and recurrence in one pass per
  batch row, forward and backward) or ``linear-scan:python``
  (:func:`~rnnkit.core.parallel_scan.linear_recurrence`, one fused multiply-add per step)
  when the C++ kernel is off: on a CPU there is no parallelism over time to win and
  PyTorch's logcumsumexp is a scalar loop.
- ``reference`` -> ``sequential``: the step-by-step loop with autograd through T steps.

Shapes: x (B, T, D); proj (B, T, G*H); h, log_a, log_b (B, T, H); h0 (B, H).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rnnkit.core.parallel_scan import linear_recurrence, log_space_scan
from rnnkit.kernels import native
from rnnkit.kernels.reference import SequenceOptions, SequenceResult

Tensor = torch.Tensor

# kernel family -> the min-RNN kernel's name (before the ":cpp"/":python" of the linear scan)
MIN_KERNELS = {"fused": "parallel-scan", "fast": "linear-scan", "reference": "sequential"}


@dataclass(frozen=True)
class MinParams:
    """A min-cell's weights: ``weight (G*H, D)``, ``bias (G*H,)`` or None; G = 2 (minGRU), 3 (minLSTM)."""

    gates: int
    weight: Tensor
    bias: Tensor | None

    @property
    def kind(self) -> str:
        return "mingru" if self.gates == 2 else "minlstm"


def g(v: Tensor) -> Tensor:
    """The positive activation of the min-RNNs: v + 0.5 (v >= 0), sigmoid(v) (v < 0)."""
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_g(v: Tensor) -> Tensor:
    """log g(v), computed stably: log(relu(v) + 0.5) or -softplus(-v)."""
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


def min_coefficients(gates: int, proj: Tensor) -> tuple[Tensor, Tensor]:
    """(log a, log b) of h_t = a_t h_{t-1} + b_t from the projection (..., G*H) (equations above)."""
    if gates == 2:
        k, v = proj.chunk(2, dim=-1)
        return -F.softplus(k), -F.softplus(-k) + log_g(v)
    kf, ki, v = proj.chunk(3, dim=-1)
    diff = F.softplus(-kf) - F.softplus(-ki)  # log i - log f (log sigmoid(k) = -softplus(-k))
    return -F.softplus(diff), -F.softplus(-diff) + log_g(v)


def linear_scan_name(x: Tensor) -> tuple[str, str | None]:
    """``linear-scan:cpp`` when the C++ pass can run on ``x``, else ``linear-scan:python`` and why not."""
    blocker = native.min_scan_blocker(x)
    return ("linear-scan:cpp" if blocker is None else "linear-scan:python"), blocker


def run_min(
    p: MinParams, x: Tensor, state0: tuple[Tensor, ...], opts: SequenceOptions, kernel: str
) -> SequenceResult:
    """Run a min-cell over x (B, T, D) with ``kernel`` (a name from :data:`MIN_KERNELS`, the
    linear scan with its ``:cpp``/``:python`` suffix), with Keras's mask and go_backwards rules."""
    xs = x.flip(1) if opts.go_backwards else x  # processing order, as Keras's go_backwards
    mask = None if opts.mask is None else (opts.mask.flip(1) if opts.go_backwards else opts.mask)
    if opts.input_dropout_mask is not None:
        xs = xs * opts.input_dropout_mask.unsqueeze(1)  # (B, D) -> (B, 1, D): one mask for every step
    proj = F.linear(xs, p.weight, p.bias)  # (B, T, G*H)
    h0 = state0[0]
    if kernel == "linear-scan:cpp":
        hs = native.MinScan.apply(p.gates, proj, h0, None if mask is None else mask.bool())
        return _finish(hs, mask, opts)
    log_a, log_b = min_coefficients(p.gates, proj)  # (B, T, H) each
    if mask is not None:
        # A masked step keeps the state: a = 1, b = 0 (log b -> a very negative number, not -inf,
        # so logcumsumexp's gradient stays finite).
        m = mask.unsqueeze(-1)
        log_a = log_a.masked_fill(~m, 0.0)
        log_b = log_b.masked_fill(~m, torch.finfo(log_b.dtype).min / 4)
    if kernel == "linear-scan:python":
        hs = linear_recurrence(torch.exp(log_a), torch.exp(log_b), h0)
    elif kernel == "sequential":
        h, outs = h0, []
        for la, lb in zip(log_a.unbind(1), log_b.unbind(1), strict=True):  # T x (B, H)
            h = torch.exp(la) * h + torch.exp(lb)
            outs.append(h)
        hs = torch.stack(outs, dim=1)  # T x (B, H) -> (B, T, H)
    else:
        hs = log_space_scan(log_a, log_b, h0)
    return _finish(hs, mask, opts)


def _finish(hs: Tensor, mask: Tensor | None, opts: SequenceOptions) -> SequenceResult:
    """The layer's outputs from every step's state hs (B, T, H), as Keras masks them."""
    if mask is not None:
        valid = mask if opts.zero_output_for_mask else mask.int().cummax(dim=1).values.bool()
        outs_t = hs * valid.unsqueeze(-1).to(hs.dtype)
    else:
        outs_t = hs
    return SequenceResult(outs_t[:, -1], outs_t if opts.return_sequences else None, (hs[:, -1],))
