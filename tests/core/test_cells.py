"""Cell equations: float64 gradcheck, parity with torch.nn cells, and a value worked by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

from rnnkit.core.cells import GATES, CellParams, LayerNormParams, cell_step

D, H, B = 3, 4, 2


def _params(kind: str, *, reset_after: bool = True, layer_norm: bool = False, dtype=torch.float64):
    G = GATES[kind] * H
    t = lambda *s: torch.randn(*s, dtype=dtype, requires_grad=True)  # noqa: E731
    ln = None
    if layer_norm:
        ln = LayerNormParams(t(G), t(G), t(G), t(G), *((t(H), t(H)) if kind == "lstm" else (None, None)))
    return CellParams(kind, t(G, D), t(G, H), t(G), t(G), torch.tanh, torch.sigmoid, reset_after, ln)


CASES = [
    ("rnn", True, False),
    ("lstm", True, False),
    ("gru", True, False),
    ("gru", False, False),
    ("lstm", True, True),
    ("gru", True, True),
]


@pytest.mark.parametrize(("kind", "reset_after", "layer_norm"), CASES)
def test_gradcheck_float64(kind: str, reset_after: bool, layer_norm: bool) -> None:
    p = _params(kind, reset_after=reset_after, layer_norm=layer_norm)
    x = torch.randn(B, D, dtype=torch.float64, requires_grad=True)
    n_states = 2 if kind == "lstm" else 1
    states = [torch.randn(B, H, dtype=torch.float64, requires_grad=True) for _ in range(n_states)]
    tensors = [p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh]
    if p.layer_norm is not None:
        tensors += [v for v in vars(p.layer_norm).values() if v is not None]

    def f(x, *args):
        st = tuple(args[:n_states])
        return cell_step(x, st, p)

    assert gradcheck(f, (x, *states, *tensors), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_step_matches_torch_cell(kind: str) -> None:
    torch_cell = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind](D, H)
    p = CellParams(
        kind, torch_cell.weight_ih, torch_cell.weight_hh, torch_cell.bias_ih, torch_cell.bias_hh, torch.tanh
    )
    x, h, c = torch.randn(B, D), torch.randn(B, H), torch.randn(B, H)
    if kind == "lstm":
        ours = cell_step(x, (h, c), p)
        ref = torch_cell(x, (h, c))
    else:
        ours = cell_step(x, (h,), p)
        ref = (torch_cell(x, h),)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


def _scalar_params(kind: str, w_ih: float, w_hh: float, b: float) -> CellParams:
    G = GATES[kind]
    full = lambda v: torch.full((G, 1), v)  # noqa: E731
    return CellParams(kind, full(w_ih), full(w_hh), torch.full((G,), b), torch.zeros(G), torch.tanh)


def test_golden_simple_rnn_by_hand() -> None:
    # H = D = 1, w_ih = 0.5, w_hh = -1, b = 0.1, x = (1, 2), h0 = 0:
    # h1 = tanh(0.5*1 + 0.1) = tanh(0.6) = 0.5370495669980353
    # h2 = tanh(0.5*2 + 0.1 - 1*h1) = tanh(0.5629504330019648) = 0.5101632506598711
    p = _scalar_params("rnn", 0.5, -1.0, 0.1)
    h = (torch.zeros(1, 1),)
    outs = []
    for x in (1.0, 2.0):
        h = cell_step(torch.tensor([[x]]), h, p)
        outs.append(h[0].item())
    assert outs == pytest.approx([0.5370495669980353, 0.5101632506598711], abs=1e-7)


def test_golden_lstm_by_hand() -> None:
    # All four gates share w_ih = 1, w_hh = 0, b = 0; x = 1, h0 = c0 = 0:
    # i = f = o = sigmoid(1) = 0.7310585786, g = tanh(1) = 0.7615941560
    # c1 = f*0 + i*g = 0.5567699411;  h1 = o * tanh(c1) = 0.7310585786 * 0.5055769315 = 0.3696063529
    p = _scalar_params("lstm", 1.0, 0.0, 0.0)
    h, c = cell_step(torch.tensor([[1.0]]), (torch.zeros(1, 1), torch.zeros(1, 1)), p)
    s = 1 / (1 + math.exp(-1))
    c_exp = s * math.tanh(1)
    assert c.item() == pytest.approx(c_exp, abs=1e-7)
    assert h.item() == pytest.approx(s * math.tanh(c_exp), abs=1e-7)
    assert h.item() == pytest.approx(0.3696063529, abs=1e-7)


def test_golden_gru_by_hand() -> None:
    # Gates r, z, n share w_ih = 1, w_hh = 1, b = 0; x = 1, h0 = 0.5, reset_after=True:
    # r = z = sigmoid(1 + 0.5) = 0.8175744762;  n = tanh(1 + r * 0.5) = tanh(1.4087872381) = 0.8872363205
    # h1 = z*h0 + (1-z)*n = 0.4087872381 + 0.1824255238*0.8872363205 = 0.5706417886
    p = _scalar_params("gru", 1.0, 1.0, 0.0)
    (h,) = cell_step(torch.tensor([[1.0]]), (torch.tensor([[0.5]]),), p)
    z = 1 / (1 + math.exp(-1.5))
    n = math.tanh(1 + z * 0.5)
    assert h.item() == pytest.approx(z * 0.5 + (1 - z) * n, abs=1e-7)
    assert h.item() == pytest.approx(0.5706417886, abs=1e-6)
