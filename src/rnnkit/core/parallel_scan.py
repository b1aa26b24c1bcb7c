"""A linear recurrence h_t = a_t * h_{t-1} + b_t computed for all t at once, in log space.

With a_t in (0, 1] and b_t >= 0 (Heinsen 2023, "Efficient parallelization of a
ubiquitous sequential computation"; used by minGRU/minLSTM, Feng et al. 2024)::

    a*_t  = sum_{k<=t} log a_k                          (cumsum)
    h_t   = exp(a*_t) * h_0 + exp(a*_t + logcumsumexp_{k<=t}(log b_k - a*_k))

Two cumulative ops over T replace T sequential steps, so training cost no longer
grows with a chain of T dependent steps. ``h_0`` may have any sign: its term is
added outside the log. Shapes: log_a, log_b (B, T, H); h0 (B, H); returns (B, T, H).
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def log_space_scan(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None) -> Tensor:
    """h_t = a_t h_{t-1} + b_t for t = 1..T given log a_t and log b_t, in two cumulative ops."""
    a_star = torch.cumsum(log_a, dim=1)  # (B, T, H)
    h = torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=1))
    if h0 is not None:
        h = h + torch.exp(a_star) * h0.unsqueeze(1)
    return h


def sequential_scan(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """The same recurrence, one step at a time (the oracle for tests)."""
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    out = []
    for a_t, b_t in zip(a.unbind(1), b.unbind(1), strict=True):
        h = a_t * h + b_t
        out.append(h)
    return torch.stack(out, dim=1)
