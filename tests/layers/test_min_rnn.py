"""minGRU / minLSTM: the parallel scan equals the step-by-step recurrence, forward and backward."""

from __future__ import annotations

import itertools
import math
import os

import pytest
import torch
from tests.helpers import assert_close_all, grads_of
from torch.autograd import gradcheck

from rnnkit import layers
from rnnkit.core.parallel_scan import linear_recurrence, log_space_scan, sequential_scan
from rnnkit.errors import ConfigError
from rnnkit.kernels import native
from rnnkit.layers.base import deserialize_layer, serialize_layer
from rnnkit.layers.min_rnn import g, log_g

B, T, D, H = 3, 12, 4, 5
NATIVE_OFF = os.environ.get("RNNKIT_NATIVE") == "0"


def test_log_space_scan_equals_the_loop_in_float64() -> None:
    a = torch.rand(B, T, H, dtype=torch.float64) * 0.9 + 0.05
    b = torch.rand(B, T, H, dtype=torch.float64)
    h0 = torch.randn(B, H, dtype=torch.float64)  # any sign: added outside the logs
    torch.testing.assert_close(log_space_scan(a.log(), b.log(), h0), sequential_scan(a, b, h0))
    args = (a.log().requires_grad_(), b.log().requires_grad_(), h0.requires_grad_())
    assert gradcheck(log_space_scan, args)


def test_linear_recurrence_equals_the_loop_in_float64() -> None:
    a = torch.rand(B, T, H, dtype=torch.float64) * 0.9 + 0.05
    b = torch.randn(B, T, H, dtype=torch.float64)
    h0 = torch.randn(B, H, dtype=torch.float64)
    torch.testing.assert_close(linear_recurrence(a, b, h0), sequential_scan(a, b, h0))
    assert gradcheck(linear_recurrence, (a.requires_grad_(), b.requires_grad_(), h0.requires_grad_()))


def test_g_is_positive_and_log_g_matches() -> None:
    v = torch.linspace(-20, 20, 401, dtype=torch.float64)
    assert (g(v) > 0).all()
    torch.testing.assert_close(log_g(v), g(v).log())


CASES = list(
    itertools.product([layers.MinGRU, layers.MinLSTM], ["none", "holes"], [False, True], [False, True])
)


@pytest.mark.parametrize(("cls", "mask_kind", "backwards", "init"), CASES)
def test_parallel_equals_sequential(cls, mask_kind, backwards, init) -> None:
    par = cls(H, return_sequences=True, return_state=True, go_backwards=backwards, mode="parallel")
    seq = cls(H, return_sequences=True, return_state=True, go_backwards=backwards, mode="sequential")
    auto = cls(H, return_sequences=True, return_state=True, go_backwards=backwards)  # CPU: linear scan
    for layer in (par, seq, auto):
        layer.build((None, T, D))
    seq.load_state_dict(par.state_dict())
    auto.load_state_dict(par.state_dict())
    x = torch.randn(B, T, D, requires_grad=True)
    h0 = torch.randn(B, H, requires_grad=True)
    mask = None if mask_kind == "none" else torch.rand(B, T) > 0.3
    state = [h0] if init else None
    out_p, g_p = grads_of(lambda: par(x, initial_state=state, mask=mask), [x, h0, *par.parameters()])
    out_s, g_s = grads_of(lambda: seq(x, initial_state=state, mask=mask), [x, h0, *seq.parameters()])
    out_a, g_a = grads_of(lambda: auto(x, initial_state=state, mask=mask), [x, h0, *auto.parameters()])
    assert_close_all(out_p, out_s, atol=2e-5)
    assert_close_all(g_p, g_s, atol=2e-5)
    assert_close_all(out_a, out_s, atol=2e-5)
    assert_close_all(g_a, g_s, atol=2e-5)
    names = (par.last_kernel.name, seq.last_kernel.name, auto.last_kernel.name)
    assert names == ("parallel-scan", "sequential", "linear-scan:python" if NATIVE_OFF else "linear-scan:cpp")


@pytest.mark.skipif(NATIVE_OFF, reason="RNNKIT_NATIVE=0 turns the C++ kernel off")
@pytest.mark.parametrize(("cls", "mask_kind", "backwards", "init"), CASES)
def test_cpp_scan_equals_the_python_scan(cls, mask_kind, backwards, init) -> None:
    """The C++ min-RNN pass (gates recomputed in its backward, a polynomial exp) against the
    Python linear scan, forward and backward, on logits wide enough to reach both sides of g."""
    layer = cls(H, return_sequences=True, return_state=True, go_backwards=backwards)
    layer.build((None, T, D))
    x = (torch.randn(B, T, D) * 3).requires_grad_()
    h0 = torch.randn(B, H, requires_grad=True)
    mask = None if mask_kind == "none" else torch.rand(B, T) > 0.3
    state = [h0] if init else None
    leaves = [x, h0, *layer.parameters()]
    out_c, g_c = grads_of(lambda: layer(x, initial_state=state, mask=mask), leaves)
    assert layer.last_kernel.name == "linear-scan:cpp"
    with native.use_native(False):
        out_p, g_p = grads_of(lambda: layer(x, initial_state=state, mask=mask), leaves)
        assert layer.last_kernel.name == "linear-scan:python"
    assert_close_all(out_c, out_p, atol=1e-5, rtol=1e-5)
    assert_close_all(g_c, g_p, atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(NATIVE_OFF, reason="RNNKIT_NATIVE=0 turns the C++ kernel off")
@pytest.mark.parametrize("gates", [2, 3])
def test_cpp_scan_gradcheck_float64(gates) -> None:
    proj = (torch.randn(2, 6, gates * 3, dtype=torch.float64) * 2).requires_grad_()
    h0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1, 0, 1, 1, 0, 1], [0, 1, 1, 0, 1, 1]]).bool()
    assert gradcheck(lambda p, h: native.MinScan.apply(gates, p, h, mask), (proj, h0))


@pytest.mark.skipif(NATIVE_OFF, reason="RNNKIT_NATIVE=0 turns the C++ kernel off")
@pytest.mark.parametrize("cls", [layers.MinGRU, layers.MinLSTM])
def test_cpp_scan_survives_extreme_logits(cls) -> None:
    """Logits of +-200 (gates at exactly 0 or 1 in float32): finite, and equal to float64."""
    layer = cls(H, return_sequences=True)
    layer.build((None, T, D))
    x = torch.randn(B, T, D) * 200
    y = layer(x)
    assert layer.last_kernel.name == "linear-scan:cpp"
    assert torch.isfinite(y).all()
    ref = layer.double()(x.double())
    torch.testing.assert_close(y.double(), ref, atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("cls", [layers.MinGRU, layers.MinLSTM])
def test_step_api_equals_the_layer(cls) -> None:
    layer = cls(H, return_sequences=True)
    x = torch.randn(B, T, D)
    full = layer(x)
    h = torch.zeros(B, H)
    for t in range(T):
        h, _ = layer.cell(x[:, t], [h])
        torch.testing.assert_close(h, full[:, t], atol=1e-5, rtol=1e-5)


def test_long_sequences_stay_finite_and_match() -> None:
    layer = layers.MinGRU(8, return_sequences=True, mode="parallel")
    seq = layers.MinGRU(8, return_sequences=True, mode="sequential")
    x = torch.randn(2, 2048, 3)
    layer.build(x.shape)
    seq.build(x.shape)
    seq.load_state_dict(layer.state_dict())
    y = layer(x)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, seq(x), atol=1e-4, rtol=1e-4)


def test_usable_wherever_an_rnn_layer_is() -> None:
    x = torch.randn(B, T, D)
    bi = layers.Bidirectional(layers.MinLSTM(H, return_sequences=True))
    assert bi(x).shape == (B, T, 2 * H)
    stateful = layers.MinGRU(H, stateful=True)
    first = stateful(x)
    assert not torch.equal(stateful(x), first)  # the state carried over
    twin = deserialize_layer(serialize_layer(stateful))
    assert type(twin) is layers.MinGRU and twin.get_config()["mode"] == "auto"
    with pytest.raises(
        ConfigError, match=r"^mode='fast' is not valid: expected one of 'auto', 'parallel', 'sequential'\.$"
    ):
        layers.MinGRU(H, mode="fast")


@pytest.mark.parametrize("mode", ["auto", "parallel", "sequential"])
def test_one_step_by_hand(mode) -> None:
    """Golden values: with a zero kernel the projection is the bias, so one step is
    minLSTM: h = f/(f+i) h0 + i/(f+i) g(v); minGRU: h = (1-z) h0 + z g(v) (f, i, z sigmoids)."""
    sig = lambda k: 1 / (1 + math.exp(-k))  # noqa: E731
    f, i, z, h0 = sig(2.0), sig(-1.0), sig(0.5), 0.7
    for cls, bias, want in (
        (layers.MinLSTM, [2.0, -1.0, 0.3], f / (f + i) * h0 + i / (f + i) * (0.3 + 0.5)),
        (layers.MinGRU, [0.5, -0.4], (1 - z) * h0 + z * sig(-0.4)),
    ):
        layer = cls(1, mode=mode)
        layer.build((None, 1, 1))
        with torch.no_grad():
            layer.cell.weight.zero_()
            layer.cell.bias.copy_(torch.tensor(bias))
        y = layer(torch.ones(1, 1, 1), initial_state=[torch.full((1, 1), h0)])
        assert y.item() == pytest.approx(want, rel=1e-6)
