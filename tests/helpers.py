"""Test helpers shared across the suite."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch


def right_padded_mask(lengths: Iterable[int], T: int) -> torch.Tensor:
    """(B, T) bool, True for the first ``length`` steps of each row."""
    lens = torch.as_tensor(list(lengths))
    return torch.arange(T).unsqueeze(0) < lens.unsqueeze(1)


def grads_of(fn: Callable[[], Any], tensors: list[torch.Tensor]) -> tuple[Any, list[torch.Tensor | None]]:
    """Run ``fn``, backprop a fixed random projection of every output, return outputs and grads."""
    for t in tensors:
        t.grad = None
    out = fn()
    outs = out if isinstance(out, (tuple, list)) else (out,)
    g = torch.Generator().manual_seed(123)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs)
    loss.backward()
    return out, [None if t.grad is None else t.grad.clone() for t in tensors]


def assert_close_all(a: Iterable[Any], b: Iterable[Any], atol: float = 1e-5, rtol: float = 1e-5) -> None:
    a, b = list(a), list(b)
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x is None or y is None:
            assert x is None and y is None, f"item {i}: one is None"
            continue
        torch.testing.assert_close(x, y, atol=atol, rtol=rtol, msg=lambda m, i=i: f"item {i}: {m}")
