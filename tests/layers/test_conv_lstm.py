"""ConvLSTM1D/2D/3D: parity with Keras 3 (torch backend) by copied weights, forward and backward,
under both kernels; the fast kernel equals the reference loop forward and backward (masks,
dropout, go_backwards); float64 gradcheck; kernel choice reported; flags and errors.

Shapes are tiny: B=2 sequences, T=3 steps, 5 or 4x4 spatial, C=2 channels, F=3 filters.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tests.helpers import assert_close_all, check_layer, grads_of

from rnnkit import kernels, layers
from rnnkit.core import initializers
from rnnkit.core.conv_cells import ConvLSTMParams
from rnnkit.errors import KernelError, ShapeError
from rnnkit.kernels import SequenceOptions
from rnnkit.kernels.conv_lstm import run_conv_lstm_fast, run_conv_lstm_reference

CASES_2D = [
    {"filters": 3, "kernel_size": 3, "return_sequences": True},
    {"filters": 3, "kernel_size": (2, 3), "padding": "same", "return_state": True, "go_backwards": True},
    {"filters": 2, "kernel_size": 2, "strides": 2, "use_bias": False, "unit_forget_bias": False},
    {
        "filters": 3,
        "kernel_size": 2,
        "dilation_rate": 2,
        "data_format": "channels_first",
        "return_sequences": True,
    },
]


@pytest.mark.parametrize("kernel", ["auto", "reference"])
@pytest.mark.parametrize("kwargs", CASES_2D, ids=lambda k: "-".join(f"{a}={b}" for a, b in k.items()))
def test_conv_lstm2d_matches_keras(kwargs: dict, kernel: str) -> None:
    shape = (2, 3, 2, 5, 5) if kwargs.get("data_format") == "channels_first" else (2, 3, 5, 5, 2)
    if kernel == "reference":
        with kernels.force("reference"):
            ours, _ = check_layer("ConvLSTM2D", kwargs, input_shape=shape)
        assert ours.last_kernel.name == "reference"
    else:
        ours, _ = check_layer("ConvLSTM2D", kwargs, input_shape=shape)
        assert ours.last_kernel.name == "fast:batched-input"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"filters": 3, "kernel_size": 3, "padding": "same", "return_sequences": True, "return_state": True},
        {"filters": 3, "kernel_size": 2, "activation": "relu", "recurrent_activation": "hard_sigmoid"},
        {"filters": 2, "kernel_size": 3, "go_backwards": True, "return_sequences": True},
    ],
    ids=str,
)
def test_conv_lstm1d_matches_keras(kwargs: dict) -> None:
    check_layer("ConvLSTM1D", kwargs, input_shape=(2, 3, 6, 2))


@pytest.mark.parametrize("return_sequences", [False, True])
def test_masks_and_initial_state_match_keras(return_sequences: bool) -> None:
    mask = np.array([[1, 1, 0], [0, 1, 1]], bool)  # right padding and a left-padded row
    rng = np.random.default_rng(5)
    h0, c0 = (torch.tensor(rng.normal(size=(2, 6, 3)).astype("float32")) for _ in range(2))
    check_layer(
        "ConvLSTM1D",
        {"filters": 3, "kernel_size": 3, "padding": "same", "return_sequences": return_sequences},
        input_shape=(2, 3, 6, 2),
        mask=mask,
        mask_argument=True,
        call_kwargs={"initial_state": [h0, c0]},
    )


def test_conv_lstm3d_matches_keras() -> None:
    check_layer(
        "ConvLSTM3D", {"filters": 2, "kernel_size": 2, "padding": "same"}, input_shape=(1, 2, 3, 3, 3, 2)
    )


# ------------------------------------------------------------ kernels
def _params(
    dtype: torch.dtype, strides: int = 1, padding: str = "same", F: int = 3, k: int = 3
) -> ConvLSTMParams:
    g = torch.Generator().manual_seed(0)
    C = 2
    return ConvLSTMParams(
        torch.randn(4 * F, C, k, k, generator=g, dtype=dtype, requires_grad=True),
        (0.5 * torch.randn(4 * F, F, k, k, generator=g, dtype=dtype)).requires_grad_(),
        torch.randn(4 * F, generator=g, dtype=dtype, requires_grad=True),
        (strides, strides),
        padding,
        (1, 1),
    )


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("dropout", [False, True])
def test_fast_equals_reference_forward_and_backward(go_backwards: bool, masked: bool, dropout: bool) -> None:
    p = _params(torch.float32)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 2, 5, 5, generator=g, requires_grad=True)
    h0 = torch.randn(2, 3, 5, 5, generator=g, requires_grad=True)
    c0 = torch.randn(2, 3, 5, 5, generator=g, requires_grad=True)
    opts = SequenceOptions(
        mask=torch.tensor([[1, 0, 1, 1], [1, 1, 1, 0]], dtype=torch.bool) if masked else None,
        go_backwards=go_backwards,
        input_dropout_mask=(torch.rand(2, 2, 5, 5, generator=g) > 0.3).float() / 0.7 if dropout else None,
        recurrent_dropout_mask=(torch.rand(2, 3, 5, 5, generator=g) > 0.3).float() / 0.7 if dropout else None,
    )
    leaves = [x, h0, c0, p.weight_ih, p.weight_hh, p.bias]

    def run(fn):
        r = fn(p, x, (h0, c0), opts)
        return (r.outputs, *r.states)

    out_ref, g_ref = grads_of(lambda: run(run_conv_lstm_reference), leaves)
    out_fast, g_fast = grads_of(lambda: run(run_conv_lstm_fast), leaves)
    assert_close_all(out_fast, out_ref)
    assert_close_all(g_fast, g_ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("run", [run_conv_lstm_reference, run_conv_lstm_fast], ids=["reference", "fast"])
def test_gradcheck_float64(run) -> None:
    # strides 2, "valid", an even kernel: S = 5x5 -> S' = 2x2, and the recurrent "same" pads unevenly.
    p = _params(torch.float64, strides=2, padding="valid", F=2, k=2)
    x = torch.randn(1, 3, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 2, 2, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(1, 2, 2, 2, dtype=torch.float64, requires_grad=True)
    opts = SequenceOptions(mask=torch.tensor([[True, False, True]]))

    def f(x, h0, c0, w_ih, w_hh, b):
        q = ConvLSTMParams(w_ih, w_hh, b, p.strides, p.padding, p.dilation)
        r = run(q, x, (h0, c0), opts)
        return r.outputs, r.states[1]

    assert torch.autograd.gradcheck(f, (x, h0, c0, p.weight_ih, p.weight_hh, p.bias))


def test_kernel_choice_is_reported_and_honest() -> None:
    layer = layers.ConvLSTM2D(2, 3, padding="same")
    x = torch.randn(1, 2, 4, 4, 1)
    layer(x)
    assert layers.kernel_report(layer)[0][1:] == (
        "fast:batched-input",
        "no fused ConvLSTM kernel; every step's input convolution in one call",
    )
    layer.unroll = True
    layer(x)
    assert layer.last_kernel.name == "reference" and layer.last_kernel.reason == "unroll=True"
    with pytest.raises(KernelError, match="there is no fused ConvLSTM kernel"):
        layers.ConvLSTM2D(2, 3, use_fused=True)(x)
    with pytest.raises(KernelError, match="there is no fused ConvLSTM kernel"), kernels.force("fused"):
        layers.ConvLSTM2D(2, 3)(x)


def test_dropout_masks_are_per_sequence_and_seeded() -> None:
    layer = layers.ConvLSTM1D(3, 2, dropout=0.5, recurrent_dropout=0.5, seed=3, return_sequences=True)
    x = torch.randn(2, 4, 6, 2)
    a, b = layer(x, training=True), layer(x, training=True)
    assert not torch.allclose(a, b)  # new masks each call
    again = layers.ConvLSTM1D(3, 2, dropout=0.5, recurrent_dropout=0.5, seed=3, return_sequences=True)
    again.build(x.shape)
    again.load_state_dict(layer.state_dict())
    torch.testing.assert_close(again(x, training=True), a)  # seeded: reproducible
    torch.testing.assert_close(layer(x, training=False), again(x, training=False))  # no dropout at inference


def test_stateful_carries_states() -> None:
    x = torch.randn(2, 4, 5, 1)
    full = layers.ConvLSTM1D(2, 3, padding="same", return_sequences=True)
    y = full(x)
    part = layers.ConvLSTM1D(2, 3, padding="same", return_sequences=True, stateful=True)
    part.build(x.shape)
    part.load_state_dict(full.state_dict())
    torch.testing.assert_close(torch.cat([part(x[:, :2]), part(x[:, 2:])], dim=1), y)
    part.reset_states()
    torch.testing.assert_close(part(x[:, :2]), y[:, :2])


def test_cell_step_equals_the_layer() -> None:
    layer = layers.ConvLSTM2D(2, 3, padding="same", return_sequences=True)
    x = torch.randn(2, 3, 4, 4, 1)
    y = layer(x)
    states = layer.cell.get_initial_state(2)
    for t in range(3):
        out, states = layer.cell(x[:, t], states)
        torch.testing.assert_close(out, y[:, t])


def test_errors() -> None:
    layer = layers.ConvLSTM2D(2, 3)
    layer(torch.randn(1, 2, 5, 5, 1))
    with pytest.raises(
        ShapeError, match=r"expected \(batch, time >= 1\) and \(channels, \*spatial\) = \(1, 5, 5\)"
    ):
        layer(torch.randn(1, 2, 6, 5, 1))
    with pytest.raises(
        ShapeError, match=r"initial_state\[0\].shape=\(1, 2, 2, 2\) is not valid: expected \(1, 3, 3, 2\)"
    ):
        layer(torch.randn(1, 2, 5, 5, 1), initial_state=[torch.zeros(1, 2, 2, 2)] * 2)
    with pytest.raises(ShapeError, match="ConvLSTM needs known channel and spatial sizes"):
        layers.ConvLSTM1D(2, 3).build((None, None, None, 2))


def test_golden_values_by_hand() -> None:
    """kernel_size=1, one filter, constant weights: every position is a scalar LSTM, computed here
    with plain floats (i, f, g, o share w_x = 0.1 and w_h = 0.2; the forget bias is 1)."""
    layer = layers.ConvLSTM1D(
        1,
        1,
        kernel_initializer=initializers.Constant(0.1),
        recurrent_initializer=initializers.Constant(0.2),
        return_sequences=True,
    )
    x = torch.tensor([[[[1.0], [-2.0]], [[0.5], [3.0]], [[-1.0], [0.0]]]])  # (B=1, T=3, steps=2, C=1)
    y = layer(x)[0, :, :, 0]  # (T, steps)

    def sig(v: float) -> float:
        return 1.0 / (1.0 + math.exp(-v))

    want = []
    for pos in range(2):
        h = c = 0.0
        col = []
        for t in range(3):
            z = 0.1 * float(x[0, t, pos, 0]) + 0.2 * h
            i, f, g, o = sig(z), sig(z + 1.0), math.tanh(z), sig(z)
            c = f * c + i * g
            h = o * math.tanh(c)
            col.append(h)
        want.append(col)
    torch.testing.assert_close(y, torch.tensor(want).T, atol=1e-6, rtol=1e-6)


@pytest.mark.gpu
def test_cuda_matches_cpu_forward_and_backward() -> None:
    layer = layers.ConvLSTM2D(4, 3, padding="same", return_sequences=True, return_state=True)
    x = torch.randn(2, 5, 8, 8, 3)
    layer.build(tuple(x.shape))
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    projections = [torch.randn(2, 5, 8, 8, 4), torch.randn(2, 8, 8, 4), torch.randn(2, 8, 8, 4)]

    def run(device: str) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        layer.to(device)
        layer.zero_grad()
        outs = layer(x.to(device), mask=mask.to(device))
        sum((o * p.to(device)).sum() for o, p in zip(outs, projections, strict=True)).backward()
        return [o.detach().cpu() for o in outs], [p.grad.cpu() for p in layer.parameters()]

    cpu_out, cpu_grads = run("cpu")
    gpu_out, gpu_grads = run("cuda")
    assert layer.last_kernel.name == "fast:batched-input"
    assert_close_all(gpu_out, cpu_out, atol=1e-4, rtol=1e-4)
    assert_close_all(gpu_grads, cpu_grads, atol=1e-3, rtol=1e-3)


def test_bidirectional_conv_lstm_matches_keras() -> None:
    import keras

    kwargs = {"filters": 2, "kernel_size": 3, "padding": "same", "return_sequences": True}
    theirs = keras.layers.Bidirectional(keras.layers.ConvLSTM1D(**kwargs))
    ours = layers.Bidirectional(layers.ConvLSTM1D(**kwargs))
    x = np.random.default_rng(2).normal(size=(2, 4, 5, 1)).astype("float32")
    theirs.build(x.shape)
    ours.build(x.shape)
    rng = np.random.default_rng(3)
    theirs.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in theirs.get_weights()])
    layers.from_keras(ours, theirs.get_weights())
    np.testing.assert_allclose(
        ours(torch.from_numpy(x)).detach().numpy(), theirs(x).detach().cpu().numpy(), atol=1e-5, rtol=1e-5
    )
