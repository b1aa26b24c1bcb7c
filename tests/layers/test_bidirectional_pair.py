"""Bidirectional runs both directions in one fused call when it can (as torch.nn does with
bidirectional=True); that path equals running the two layers one by one, forward and backward."""

from __future__ import annotations

import itertools

import pytest
import torch
from tests.helpers import assert_close_all, grads_of

from rnnkit import layers

B, T, D, H = 3, 6, 4, 5
KINDS = {
    "lstm": lambda **kw: layers.LSTM(H, **kw),  # oneDNN on CPU: "auto" takes the fused kernel
    "gru": lambda **kw: layers.GRU(H, use_fused=True, **kw),  # "auto" would take fast:cpp on CPU
    "rnn": lambda **kw: layers.SimpleRNN(H, use_fused=True, **kw),
}
CASES = list(itertools.product(KINDS, ["concat", "sum", None], [False, True], [False, True], [False, True]))


def _flat(out):
    return tuple(out) if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize(("kind", "merge", "seqs", "state", "init"), CASES)
def test_one_call_equals_two(kind, merge, seqs, state, init) -> None:
    bi = layers.Bidirectional(KINDS[kind](return_sequences=seqs, return_state=state), merge_mode=merge)
    x = torch.randn(B, T, D, requires_grad=True)
    bi.build(x.shape)
    n = 2 if kind == "lstm" else 1
    h0 = [torch.randn(B, H, requires_grad=True) for _ in range(2 * n)] if init else None
    leaves = [x, *(h0 or []), *bi.parameters()]
    every_step = torch.ones(B, T, dtype=torch.bool)  # a mask with no padding: the two-call path

    out_1, g_1 = grads_of(lambda: _flat(bi(x, initial_state=h0)), leaves)
    assert bi.last_kernel.reason.endswith("both directions in one call")
    assert bi.backward_layer.last_kernel is bi.forward_layer.last_kernel
    out_2, g_2 = grads_of(lambda: _flat(bi(x, initial_state=h0, mask=every_step)), leaves)
    assert "one call" not in bi.last_kernel.reason
    assert_close_all(out_1, out_2, atol=1e-6, rtol=1e-5)
    assert_close_all(g_1, g_2, atol=1e-5, rtol=1e-5)


def test_what_keeps_the_two_calls() -> None:
    x = torch.randn(B, T, D)
    cases = {
        "gru auto on CPU": layers.Bidirectional(layers.GRU(H)),  # fast:cpp beats ATen's GRU
        "recurrent dropout": layers.Bidirectional(layers.LSTM(H, recurrent_dropout=0.3)),
        "input dropout": layers.Bidirectional(layers.LSTM(H, dropout=0.3)),
        "layer norm": layers.Bidirectional(layers.LSTM(H, layer_norm=True)),
        "different twin": layers.Bidirectional(
            layers.LSTM(H), backward_layer=layers.LSTM(H + 1, go_backwards=True)
        ),
    }
    for name, bi in cases.items():
        bi(x, training=True)
        assert "one call" not in bi.last_kernel.reason, name
    # Dropout only bites while training: at inference the one call runs.
    bi = cases["input dropout"]
    bi(x, training=False)
    assert bi.last_kernel.reason.endswith("both directions in one call")
