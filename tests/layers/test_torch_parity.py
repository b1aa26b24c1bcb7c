"""Parity with torch.nn.RNN/LSTM/GRU after copying weights: outputs, final states and the
gradients of the input, the initial state and every weight, within 1e-5 in float32.

One and two layers, uni- and bidirectional, with and without an initial state and a
right-padded mask (torch's packed sequences), on both kernels.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from tests.helpers import assert_close_all, grads_of, right_padded_mask
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit import layers

B, T, D, H = 3, 6, 4, 5
OURS = {"rnn": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}
TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
CASES = list(
    itertools.product(
        ["rnn", "lstm", "gru"], [1, 2], [False, True], [False, True], [False, True], ["auto", False]
    )
)


def _build(kind, num_layers, bidirectional, use_fused, torch_rnn):
    stack = []
    dim = D
    for i in range(num_layers):
        layer = OURS[kind](
            H, return_sequences=True, return_state=True, zero_output_for_mask=True, use_fused=use_fused
        )
        if bidirectional:
            layer = layers.Bidirectional(layer)
        layer.build((None, T, dim))
        subs = [layer.forward_layer, layer.backward_layer] if bidirectional else [layer]
        for reverse, sub in enumerate(subs):
            layers.from_torch(sub, torch_rnn, layer_index=i, reverse=bool(reverse))
        stack.append(layer)
        dim = H * (2 if bidirectional else 1)
    return stack


@pytest.mark.parametrize(("kind", "num_layers", "bidirectional", "init", "masked", "use_fused"), CASES)
def test_matches_torch(kind, num_layers, bidirectional, init, masked, use_fused) -> None:
    torch_rnn = TORCH[kind](D, H, num_layers=num_layers, batch_first=True, bidirectional=bidirectional)
    stack = _build(kind, num_layers, bidirectional, use_fused, torch_rnn)
    dirs = 2 if bidirectional else 1
    n_states = 2 if kind == "lstm" else 1
    x = torch.randn(B, T, D, requires_grad=True)
    h0 = [torch.randn(num_layers * dirs, B, H).requires_grad_() for _ in range(n_states)] if init else []
    lengths = [6, 2, 4]
    mask = right_padded_mask(lengths, T) if masked else None

    def run_torch():
        hx = None if not init else tuple(h0) if kind == "lstm" else h0[0]
        inp = (
            pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
            if masked
            else x
        )
        out, hn = torch_rnn(inp, hx)
        if masked:
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        hn = hn if kind == "lstm" else (hn,)
        return (out, *hn)

    def run_ours():
        seq, finals = x, []
        for i, layer in enumerate(stack):
            # torch orders states (layer, direction); Keras's Bidirectional: forward states, then backward.
            init_state = [h[i * dirs + d] for d in range(dirs) for h in h0] if init else None
            seq, *states = layer(seq, initial_state=init_state, mask=mask)
            finals.append(states)
        # -> torch's h_n (L*dirs, B, H) [and c_n]
        per_state = [
            torch.stack([finals[i][d * n_states + s] for i in range(num_layers) for d in range(dirs)])
            for s in range(n_states)
        ]
        return (seq, *per_state)

    params = list(torch_rnn.parameters())
    ours_params = [p for layer in stack for p in layer.parameters()]
    out_t, g_t = grads_of(run_torch, [x, *h0, *params])
    out_o, g_o = grads_of(run_ours, [x, *h0, *ours_params])
    assert_close_all(out_o, out_t)
    # Parameter order: torch lists (layer, direction, [w_ih, w_hh, b_ih, b_hh]); so do we.
    assert_close_all(g_o, g_t)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("use_fused", ["auto", False])
def test_go_backwards_is_torch_on_reversed_time(kind, use_fused) -> None:
    torch_rnn = TORCH[kind](D, H, batch_first=True)
    layer = OURS[kind](H, return_sequences=True, go_backwards=True, use_fused=use_fused)
    layer.build((None, T, D))
    layers.from_torch(layer, torch_rnn)
    x = torch.randn(B, T, D)
    expected, _ = torch_rnn(x.flip(1))
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)


def test_kernel_choice_is_reported() -> None:
    x = torch.randn(B, T, D)
    lstm = layers.LSTM(H)
    lstm(x)
    assert (lstm.last_kernel.name, lstm.last_kernel.reason) == ("fused:onednn", "eligible")
    lstm_rd = layers.LSTM(H, recurrent_dropout=0.2)
    lstm_rd(x, training=True)
    assert lstm_rd.last_kernel.name == "fast:cpp"
    assert lstm_rd.last_kernel.reason == "fused kernel refused: recurrent_dropout > 0 while training"
    lstm_rd(x, training=False)  # recurrent dropout is off at inference: fused again
    assert lstm_rd.last_kernel.name == "fused:onednn"
    gru = layers.GRU(H, reset_after=False)
    gru(x, mask=right_padded_mask([6, 2, 4], T).flip(1))
    assert (gru.last_kernel.name, gru.last_kernel.reason) == (
        "fast:python",
        "fused kernel refused: reset_after=False (the fused GRU is the reset_after=True variant)",
    )
    bi = layers.Bidirectional(layers.SimpleRNN(H))
    bi(x)
    # GRU/SimpleRNN on CPU: rnnkit's C++ loop beats ATen's; use_fused=True still asks for ATen's.
    assert [row[1] for row in layers.kernel_report(bi)] == ["fast:cpp", "fast:cpp"]
    bi_aten = layers.Bidirectional(layers.SimpleRNN(H, use_fused=True))
    bi_aten(x)
    assert [row[1] for row in layers.kernel_report(bi_aten)] == ["fused:aten", "fused:aten"]
