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


def _rel_err(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got - want).norm() / want.norm())


def test_int8_linear_step_is_close_and_really_quantized() -> None:
    torch.manual_seed(0)
    w, b, x = torch.randn(300, 64) / 8, torch.randn(300), torch.randn(4, 64)
    want = torch.nn.functional.linear(x, w, b)
    got = linear_step(x, pack_linear(w, b, int8=True))
    assert not torch.equal(got, want)  # the int8 product ran
    assert _rel_err(got, want) < 0.02  # per-channel int8 weights, 7-bit dynamic activations
    assert _rel_err(linear_step(x, pack_linear(w, None, int8=True)), x @ w.T) < 0.02


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_int8_packed_step_is_close_to_the_cell(kind: str) -> None:
    torch.manual_seed(1)
    D = H = 48
    G = GATES[kind] * H
    p = CellParams(
        kind,
        torch.randn(G, D) / 7,
        torch.randn(G, H) / 7,
        torch.randn(G) / 10,
        torch.randn(G) / 10,
        torch.tanh,
    )
    state = tuple(torch.randn(3, H) for _ in range(2 if kind == "lstm" else 1))
    x = torch.randn(3, D)
    q = pack_cell(p, int8=True)
    assert q is not None
    for got, want in zip(packed_step(x, state, q), cell_step(x, state, p), strict=True):
        assert not torch.equal(got, want)
        assert _rel_err(got, want) < 0.03
