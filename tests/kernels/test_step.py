"""The packed decoding step equals the cell equations."""

from __future__ import annotations

import pytest
import torch

from rnnkit.core.cells import GATES, CellParams, LayerNormParams, cell_step
from rnnkit.kernels.step import linear_step, pack_cell, pack_linear, packed_step

B, D, H = 2, 5, 7


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_packed_step_equals_cell_step(kind: str, use_bias: bool) -> None:
    G = GATES[kind] * H
    b = (torch.randn(G), torch.randn(G)) if use_bias else (None, None)
    p = CellParams(kind, torch.randn(G, D), torch.randn(G, H), *b, torch.tanh)
    state = tuple(torch.randn(B, H) for _ in range(2 if kind == "lstm" else 1))
    x = torch.randn(B, D)
    packed = pack_cell(p)
    assert packed is not None
    for got, want in zip(packed_step(x, state, packed), cell_step(x, state, p), strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_unpackable_cells_say_so() -> None:
    G = 3 * H
    ln = LayerNormParams(torch.ones(G), torch.zeros(G), torch.ones(G), torch.zeros(G))
    assert (
        pack_cell(
            CellParams("gru", torch.randn(G, D), torch.randn(G, H), None, None, torch.tanh, layer_norm=ln)
        )
        is None
    )
    assert (
        pack_cell(
            CellParams("gru", torch.randn(G, D), torch.randn(G, H), None, None, torch.tanh, reset_after=False)
        )
        is None
    )


def test_linear_step() -> None:
    w, b, x = torch.randn(11, D), torch.randn(11), torch.randn(B, D)
    torch.testing.assert_close(linear_step(x, pack_linear(w, b)), torch.nn.functional.linear(x, w, b))
    torch.testing.assert_close(linear_step(x, pack_linear(w, None)), x @ w.T)
