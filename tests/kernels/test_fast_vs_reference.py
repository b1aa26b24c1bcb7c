"""The fast kernel (hand-written BPTT) equals the reference loop, forward and backward.

Every combination of kind/activation, mask (none, right, left padding, holes), direction,
zero_output_for_mask, recurrent dropout and zoneout (training and inference); the
remaining flags (initial state, bias, input dropout, return_sequences) cycle across cases.
Both of its loops: Python (every case) and C++ (every case it serves).
"""

from __future__ import annotations

import itertools
import os

import pytest
import torch
from tests.helpers import assert_close_all, grads_of

from rnnkit import layers
from rnnkit.core import activations
from rnnkit.core.cells import GATES, CellParams, LayerNormParams
from rnnkit.errors import KernelError
from rnnkit.kernels import SequenceOptions, fast_blocker, fast_loop, force, native, run_fast, run_reference

B, T, D, H = 3, 5, 4, 6
KINDS = {
    "rnn_tanh": ("rnn", "tanh", "sigmoid"),
    "rnn_relu": ("rnn", "relu", "sigmoid"),
    "lstm": ("lstm", "tanh", "sigmoid"),
    "lstm_hard": ("lstm", "tanh", "hard_sigmoid"),
    "lstm_ln": ("lstm", "tanh", "sigmoid"),
    "gru": ("gru", "tanh", "sigmoid"),
    "gru_v1": ("gru", "tanh", "sigmoid"),
    "gru_ln": ("gru", "tanh", "sigmoid"),
}
MASKS = {
    "none": None,
    "right": [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0]],
    "left": [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 1, 1]],
    "holes": [[1, 0, 1, 0, 1], [0, 0, 1, 1, 0], [1, 1, 0, 1, 1]],
}
CASES = list(
    itertools.product(KINDS, MASKS, [False, True], [False, True], [False, True], ["off", "train", "eval"])
)
NATIVE_OFF = os.environ.get("RNNKIT_NATIVE") == "0"
NATIVE_KINDS = ("rnn_tanh", "lstm", "lstm_ln", "gru", "gru_ln")  # what the C++ loop serves
LOOP_CASES = [(*c, "python") for c in CASES] + [
    (*c, "cpp") for c in CASES if c[0] in NATIVE_KINDS and c[-1] == "off"
]


@pytest.mark.parametrize(
    ("kind", "mask_name", "backwards", "zero_out", "rec_drop", "zoneout", "loop"), LOOP_CASES
)
def test_fast_equals_reference(kind, mask_name, backwards, zero_out, rec_drop, zoneout, loop) -> None:
    if loop == "cpp" and NATIVE_OFF:
        pytest.skip("RNNKIT_NATIVE=0 turns the C++ loop off")
    case = CASES.index((kind, mask_name, backwards, zero_out, rec_drop, zoneout))
    init, use_bias, in_drop, seqs = (bool(case >> k & 1) for k in range(4))
    base, act, rec = KINDS[kind]
    G = GATES[base] * H
    w = [torch.randn(G, D) * 0.5, torch.randn(G, H) * 0.5]
    b = [torch.randn(G) * 0.1, torch.randn(G) * 0.1] if use_bias else [None, None]
    weights = [t.requires_grad_() for t in w + b if t is not None]
    ln = None
    if kind.endswith("_ln"):
        gains = [torch.randn(G).requires_grad_() for _ in range(4)]
        cell = [torch.randn(H).requires_grad_() for _ in range(2)] if base == "lstm" else [None, None]
        ln = LayerNormParams(*gains, *cell)
        weights += gains + [t for t in cell if t is not None]
    reset_after = kind != "gru_v1"
    p = CellParams(base, w[0], w[1], b[0], b[1], activations.get(act), activations.get(rec), reset_after, ln)
    x = torch.randn(B, T, D, requires_grad=True)
    n_states = 2 if base == "lstm" else 1
    state0 = tuple(
        (torch.randn(B, H) if init else torch.zeros(B, H)).requires_grad_() for _ in range(n_states)
    )
    mask = None if MASKS[mask_name] is None else torch.tensor(MASKS[mask_name]).bool()

    def opts(seed: int) -> SequenceOptions:
        gen = torch.Generator().manual_seed(seed)
        return SequenceOptions(
            mask=mask,
            go_backwards=backwards,
            zero_output_for_mask=zero_out,
            return_sequences=seqs,
            training=zoneout != "eval",
            input_dropout_mask=(torch.rand(B, D, generator=gen) > 0.3).float() / 0.7 if in_drop else None,
            recurrent_dropout_mask=(torch.rand(B, H, generator=gen) > 0.3).float() / 0.7
            if rec_drop
            else None,
            zoneout=0.0 if zoneout == "off" else 0.3,
            generator=gen,
        )

    assert fast_blocker(p, opts(0)) is None
    tensors = [x, *state0, *weights]

    def run(fn):
        r = fn(p, x, state0, opts(7))
        return (r.last_output, *r.states) + ((r.outputs,) if seqs else ())

    with native.use_native(loop == "cpp"):
        assert fast_loop(p, x, opts(0)) == loop  # the loop under test really runs (C++: it built)
        out_f, g_f = grads_of(lambda: run(run_fast), tensors)
    out_r, g_r = grads_of(lambda: run(run_reference), tensors)
    assert_close_all(out_f, out_r)
    # Layer norm's backward rounds differently in float32 (gains ~N(0, 1) amplify it).
    tol = 1e-4 if kind.endswith("_ln") else 2e-5
    assert_close_all(g_f, g_r, atol=tol, rtol=tol)


def test_fast_blocker_reasons() -> None:
    w = torch.randn(4 * H, D), torch.randn(4 * H, H)
    custom = CellParams("lstm", *w, None, None, lambda v: v * 2)
    assert fast_blocker(custom, SequenceOptions()) == (
        "activation a user function has no closed-form derivative in the fast kernel"
    )
    hard = CellParams("gru", torch.randn(3 * H, D), torch.randn(3 * H, H), None, None, torch.tanh, torch.exp)
    assert fast_blocker(hard, SequenceOptions()) == (
        "recurrent_activation exponential has no closed-form derivative in the fast kernel"
    )


def test_layers_pick_the_fast_kernel_when_the_fused_one_refuses() -> None:
    x = torch.randn(B, T, D)
    holes = torch.tensor(MASKS["holes"]).bool()
    lstm = layers.LSTM(H)
    lstm(x, mask=holes)
    assert lstm.last_kernel.name.startswith("fast:")
    assert (
        lstm.last_kernel.reason
        == "fused kernel refused: the mask is not right-padded (left padding or holes)"
    )
    ln = layers.GRU(H, layer_norm=True)
    ln(x)
    assert ln.last_kernel.reason == "fused kernel refused: layer_norm=True"
    with native.use_native(False):
        ln(x)
    assert str(ln.last_kernel) == "fast:python (fused kernel refused: layer_norm=True)"
    zone = layers.GRU(H, zoneout=0.1)
    zone(x)
    assert zone.last_kernel.name == "fast:python"  # zoneout is the Python loop's alone
    with force("reference"):
        lstm(x, mask=holes)
    assert (lstm.last_kernel.name, lstm.last_kernel.reason) == ("reference", "forced")
    own = layers.SimpleRNN(H, activation="softsign")
    own(x)
    assert own.last_kernel.name == "reference"
    forced_msg = (
        r"^kernel 'fast' was forced but cannot run this layer: activation softsign has no closed-form"
    )
    with pytest.raises(KernelError, match=forced_msg), force("fast"):
        own(x)


@pytest.mark.skipif(NATIVE_OFF, reason="RNNKIT_NATIVE=0 turns the C++ loop off")
@pytest.mark.parametrize("kind", NATIVE_KINDS)
def test_cpp_loop_gradcheck_float64(kind) -> None:
    """The C++ loop's hand-written backward against finite differences, in float64."""
    base = KINDS[kind][0]
    G = GATES[base] * H
    dt = torch.float64
    w = [torch.randn(G, D, dtype=dt) * 0.5, torch.randn(G, H, dtype=dt) * 0.5]
    b = [torch.randn(G, dtype=dt) * 0.1, torch.randn(G, dtype=dt) * 0.1]
    gains = [torch.randn(G, dtype=dt) for _ in range(4)] if kind.endswith("_ln") else []
    cell = [torch.randn(H, dtype=dt) for _ in range(2)] if kind == "lstm_ln" else [None, None]
    ln = LayerNormParams(*gains, *cell) if gains else None
    leaves = [t.requires_grad_() for t in [*w, *b, *gains, *cell] if t is not None]
    p = CellParams(base, *w, *b, torch.tanh, torch.sigmoid, True, ln)
    x = torch.randn(2, 4, D, dtype=dt, requires_grad=True)
    h0 = [torch.randn(2, H, dtype=dt, requires_grad=True) for _ in range(2 if base == "lstm" else 1)]
    holes = torch.tensor([[1, 0, 1, 1], [0, 1, 1, 0]]).bool()
    rmask = (torch.rand(2, H, dtype=dt) > 0.3).to(dt) / 0.7
    opts = SequenceOptions(mask=holes, return_sequences=True, recurrent_dropout_mask=rmask)
    assert fast_loop(p, x, opts) == "cpp"

    def f(*args):
        r = run_fast(p, x, tuple(h0), opts)
        return r.outputs, *r.states

    assert torch.autograd.gradcheck(f, (x, *h0, *leaves))


@pytest.mark.skipif(NATIVE_OFF, reason="RNNKIT_NATIVE=0 turns the C++ loop off")
@pytest.mark.parametrize("kind", NATIVE_KINDS)
def test_cpp_loop_split_across_threads(kind) -> None:
    """Wide enough that every row loop, and the layer-norm gains' column sums, split across
    2 threads: the result equals one thread's and the reference's (a race would not)."""
    base = KINDS[kind][0]
    Bw, Tw, Dw, Hw = 48, 4, 8, 96  # 48 x 96 and 48 x 4*96: above the 4096-element grain
    G = GATES[base] * Hw
    w = [torch.randn(G, Dw) * 0.3, torch.randn(G, Hw) * 0.3, torch.randn(G) * 0.1, torch.randn(G) * 0.1]
    gains = [torch.randn(G) for _ in range(4)] if kind.endswith("_ln") else []
    cell = [torch.randn(Hw) for _ in range(2)] if kind == "lstm_ln" else [None, None]
    leaves = [t.requires_grad_() for t in [*w, *gains, *cell] if t is not None]
    ln = LayerNormParams(*gains, *cell) if gains else None
    p = CellParams(base, *w, torch.tanh, torch.sigmoid, True, ln)
    x = torch.randn(Bw, Tw, Dw, requires_grad=True)
    holes = torch.rand(Bw, Tw) > 0.2
    opts = SequenceOptions(mask=holes, return_sequences=True)
    state0 = tuple(torch.zeros(Bw, Hw) for _ in range(2 if base == "lstm" else 1))

    def run(fn):
        r = fn(p, x, state0, opts)
        return (r.outputs, *r.states)

    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            assert fast_loop(p, x, opts) == "cpp"
            results.append(grads_of(lambda: run(run_fast), [x, *leaves]))
    finally:
        torch.set_num_threads(threads)
    (out1, g1), (out2, g2) = results
    # Not bit for bit: the BLAS may split its GEMMs differently with another thread count.
    assert_close_all(out2, out1, atol=1e-6, rtol=1e-6)
    assert_close_all(g2, g1, atol=1e-5, rtol=1e-5)
    out_r, g_r = grads_of(lambda: run(run_reference), [x, *leaves])
    assert_close_all(out2, out_r)
    assert_close_all(g2, g_r, atol=1e-4, rtol=1e-4)
