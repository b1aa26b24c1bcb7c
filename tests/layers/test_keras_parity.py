"""Parity with Keras 3 (torch backend): same weights in, same outputs and states out.

Each test builds a Keras layer and its rnnkit twin, randomizes the Keras weights
(so every bias, both GRU bias rows included, is non-zero), copies them over with
``from_keras`` and compares every output and state within 1e-5 (float32). Unless
a test is about kernel choice, rnnkit runs three times -- ``use_fused="auto"`` (fused,
else fast), ``use_fused=False`` (fast, else reference) and ``kernels.force("reference")``
-- and every run must match Keras (on CPU Keras always runs its generic loop, so it
is the oracle for every kernel).

Shapes: B=3 sequences, T=6 steps, D=4 features, H=5 units.

Known deliberate differences, asserted as rnnkit documents them:
- ``RNN([cells], return_state=True)`` returns the states flat (h1, c1, h2, c2);
  Keras nests them per cell, so Keras's are flattened before comparing.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

import keras
import numpy as np
import pytest
import torch

from rnnkit import kernels
from rnnkit import layers as rk
from rnnkit.errors import KernelError
from rnnkit.layers import from_keras, to_keras

B, T, D, H = 3, 6, 4, 5
ATOL = RTOL = 1e-5

# name -> (class name shared by Keras and rnnkit, extra constructor arguments)
KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "SimpleRNN": ("SimpleRNN", {}),
    "LSTM": ("LSTM", {}),
    "GRU": ("GRU", {"reset_after": True}),
    "GRU-v1": ("GRU", {"reset_after": False}),
}
CELLS = {"SimpleRNN": "SimpleRNNCell", "LSTM": "LSTMCell", "GRU": "GRUCell", "GRU-v1": "GRUCell"}

# (B, T) masks, True = a real step.
MASKS = {
    "right": [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]],
    "left": [[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]],
    "holes": [[1, 0, 1, 1, 0, 1], [1, 1, 0, 0, 1, 1], [0, 1, 1, 1, 1, 0]],
}
FUSED = ("auto", False)


# ----------------------------------------------------------------- helpers
def _inputs(seed: int = 0, shape: tuple[int, ...] = (B, T, D)) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _mask(name: str) -> np.ndarray:
    return np.asarray(MASKS[name], dtype=bool)


def _to_np(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(keras.ops.convert_to_numpy(x))


def _flat(x: Any) -> list[Any]:
    return list(keras.tree.flatten(x)) if isinstance(x, (list, tuple)) else [x]


def assert_same(ours: Any, theirs: Any) -> None:
    """Every tensor of ``ours`` equals the matching one of Keras's output (nested outputs flattened)."""
    a, b = _flat(ours), _flat(theirs)
    assert len(a) == len(b), f"rnnkit returned {len(a)} tensors, Keras {len(b)}"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        x, y = _to_np(x), _to_np(y)
        assert x.shape == y.shape, f"item {i}: shape {x.shape} != Keras's {y.shape}"
        np.testing.assert_allclose(x, y, atol=ATOL, rtol=RTOL, err_msg=f"item {i}")


def _randomize(klayer: keras.layers.Layer, seed: int = 1, scale: float = 0.5) -> None:
    rng = np.random.default_rng(seed)
    klayer.set_weights(
        [rng.normal(scale=scale, size=w.shape).astype("float32") for w in klayer.get_weights()]
    )


def make_pair(kind: str, shape: tuple[int, ...] = (B, T, D), **kwargs: Any) -> tuple[Any, Any]:
    """A built Keras layer with random weights and its rnnkit twin holding the same weights."""
    cls, extra = KINDS[kind]
    klayer = getattr(keras.layers, cls)(H, **extra, **kwargs)
    ours = getattr(rk, cls)(H, **extra, **kwargs)
    return _link(klayer, ours, shape)


def _link(klayer: Any, ours: Any, shape: tuple[int, ...] = (B, T, D)) -> tuple[Any, Any]:
    klayer.build(shape)
    ours.build(shape)
    _randomize(klayer)
    from_keras(ours, klayer.get_weights())
    return klayer, ours


def _fused_runs(ours: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """Our outputs under use_fused="auto", use_fused=False, the forced fused kernel (where it is
    eligible: GRU and SimpleRNN take the C++ fast loop under "auto" on CPU) and the reference loop."""
    rnns = [m for m in ours.modules() if isinstance(m, rk.RNN)]
    before = [m.use_fused for m in rnns]
    runs = []
    for setting in FUSED:
        for m in rnns:
            m.use_fused = setting
        runs.append(ours(*args, **kwargs))
    for m, setting in zip(rnns, before, strict=True):
        m.use_fused = setting
    with kernels.force("reference"):
        runs.append(ours(*args, **kwargs))
    with contextlib.suppress(KernelError), kernels.force("fused"):
        runs.append(ours(*args, **kwargs))
    return runs


def check(klayer: Any, ours: Any, x: np.ndarray, **kwargs: Any) -> None:
    """Keras's output on x == ours, under both kernel settings; kwargs (mask=, initial_state=) go to both."""
    theirs = klayer(x, **kwargs)
    ours_kwargs = {k: _torch_tree(v) for k, v in kwargs.items()}
    for run in _fused_runs(ours, torch.from_numpy(x), **ours_kwargs):
        assert_same(run, theirs)


def _torch_tree(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return torch.from_numpy(v)
    if isinstance(v, (list, tuple)):
        return [_torch_tree(s) for s in v]
    return v


# ---------------------------------------------------------- layer flags
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "return_sequences,return_state,go_backwards", list(itertools.product((False, True), repeat=3))
)
def test_flags(kind: str, return_sequences: bool, return_state: bool, go_backwards: bool) -> None:
    klayer, ours = make_pair(
        kind, return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards
    )
    check(klayer, ours, _inputs())
    if kind != "GRU-v1":  # the "auto" run above really was the fused kernel
        with kernels.force("fused"):  # eligible, so check() above compared it too
            ours(torch.from_numpy(_inputs()))
        assert ours.last_kernel.name.startswith("fused"), ours.last_kernel


@pytest.mark.parametrize("kind", KINDS)
def test_no_bias_and_unroll(kind: str) -> None:
    klayer, ours = make_pair(kind, use_bias=False, unroll=True, return_sequences=True, return_state=True)
    check(klayer, ours, _inputs(), mask=_mask("holes"))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mask_name", MASKS)
@pytest.mark.parametrize("return_sequences,go_backwards", list(itertools.product((False, True), repeat=2)))
def test_mask_argument(kind: str, mask_name: str, return_sequences: bool, go_backwards: bool) -> None:
    klayer, ours = make_pair(
        kind, return_sequences=return_sequences, return_state=True, go_backwards=go_backwards
    )
    check(klayer, ours, _inputs(), mask=_mask(mask_name))
    if mask_name == "right" and kind != "GRU-v1":  # right padding is served by the fused kernel
        with kernels.force("fused"):
            ours(torch.from_numpy(_inputs()), mask=torch.from_numpy(_mask(mask_name)))
        assert ours.last_kernel.name.startswith("fused"), ours.last_kernel


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_masking_layer(kind: str) -> None:
    """keras.Sequential([Masking, RNN]) == rnnkit's Masking and RNN chained by hand."""
    x = _inputs() * _mask("holes")[..., None]  # all-zero feature vectors are masked
    cls, extra = KINDS[kind]
    krnn = getattr(keras.layers, cls)(H, return_sequences=True, **extra)
    model = keras.Sequential([keras.Input(shape=(T, D)), keras.layers.Masking(0.0), krnn])
    _randomize(krnn)
    ours = getattr(rk, cls)(H, return_sequences=True, **extra)
    ours.build((B, T, D))
    from_keras(ours, krnn.get_weights())
    theirs = model(x)
    for run in _fused_runs(ours, rk.Masking(0.0)(torch.from_numpy(x))):
        assert_same(run, theirs)


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_mask_zero_output_and_empty_row(kind: str) -> None:
    # zero_output_for_mask, and a sequence with no real step at all (state stays initial).
    klayer, ours = make_pair(kind, return_sequences=True, return_state=True, zero_output_for_mask=True)
    mask = _mask("right")
    mask[2] = False
    check(klayer, ours, _inputs(), mask=mask)


@pytest.mark.parametrize("kind", [*KINDS, "Bidirectional"])
@pytest.mark.parametrize("mask_name", MASKS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_embedding_mask_zero(kind: str, mask_name: str, return_sequences: bool) -> None:
    """Embedding(mask_zero=True) -> RNN in a keras.Sequential == rnnkit's layers chained by hand."""
    V = 7
    tokens = np.random.default_rng(2).integers(1, V, size=(B, T)) * _mask(mask_name)  # 0 = padding
    if kind == "Bidirectional":
        krnn = keras.layers.Bidirectional(keras.layers.LSTM(H, return_sequences=return_sequences))
        ours_rnn = rk.Bidirectional(rk.LSTM(H, return_sequences=return_sequences))
    else:
        cls, extra = KINDS[kind]
        krnn = getattr(keras.layers, cls)(H, return_sequences=return_sequences, **extra)
        ours_rnn = getattr(rk, cls)(H, return_sequences=return_sequences, **extra)
    kemb = keras.layers.Embedding(V, D, mask_zero=True)
    model = keras.Sequential([keras.Input(shape=(T,), dtype="int32"), kemb, krnn])
    _randomize(krnn)
    emb = rk.Embedding(V, D, mask_zero=True)
    from_keras(emb, kemb.get_weights())
    ours_rnn.build((B, T, D))
    from_keras(ours_rnn, krnn.get_weights())

    theirs = model(tokens)
    for run in _fused_runs(ours_rnn, emb(torch.from_numpy(tokens))):
        assert_same(run, theirs)


# ---------------------------------------------------------- initial state
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_initial_state(kind: str, go_backwards: bool) -> None:
    klayer, ours = make_pair(kind, return_sequences=True, return_state=True, go_backwards=go_backwards)
    n_states = 2 if kind == "LSTM" else 1
    state0 = [_inputs(10 + i, (B, H)) for i in range(n_states)]
    check(klayer, ours, _inputs(), initial_state=state0, mask=_mask("holes"))


# ---------------------------------------------------------- bidirectional
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences,return_state", list(itertools.product((False, True), repeat=2)))
def test_bidirectional(merge_mode: str | None, kind: str, return_sequences: bool, return_state: bool) -> None:
    cls, extra = KINDS[kind]
    flags = {"return_sequences": return_sequences, "return_state": return_state, **extra}
    klayer = keras.layers.Bidirectional(getattr(keras.layers, cls)(H, **flags), merge_mode=merge_mode)
    ours = rk.Bidirectional(getattr(rk, cls)(H, **flags), merge_mode=merge_mode)
    klayer, ours = _link(klayer, ours)
    check(klayer, ours, _inputs())


@pytest.mark.parametrize("merge_mode", ["concat", None])
@pytest.mark.parametrize("mask_name", MASKS)
def test_bidirectional_mask_and_initial_state(merge_mode: str | None, mask_name: str) -> None:
    flags = {"return_sequences": True, "return_state": True}
    klayer = keras.layers.Bidirectional(keras.layers.LSTM(H, **flags), merge_mode=merge_mode)
    ours = rk.Bidirectional(rk.LSTM(H, **flags), merge_mode=merge_mode)
    klayer, ours = _link(klayer, ours)
    state0 = [_inputs(10 + i, (B, H)) for i in range(4)]  # h_fwd, c_fwd, h_bwd, c_bwd
    check(klayer, ours, _inputs(), mask=_mask(mask_name), initial_state=state0)


def test_bidirectional_custom_backward_layer() -> None:
    kfwd = keras.layers.GRU(H, return_sequences=True)
    kbwd = keras.layers.LSTM(H, return_sequences=True, go_backwards=True)
    klayer = keras.layers.Bidirectional(kfwd, backward_layer=kbwd, merge_mode="sum")
    ours = rk.Bidirectional(
        rk.GRU(H, return_sequences=True),
        backward_layer=rk.LSTM(H, return_sequences=True, go_backwards=True),
        merge_mode="sum",
    )
    klayer, ours = _link(klayer, ours)
    check(klayer, ours, _inputs(), mask=_mask("right"))


def test_bidirectional_of_a_go_backwards_layer() -> None:
    """Deliberate difference (bidirectional.py docstring): rnnkit's twin reads in the opposite
    direction of ``layer`` (Keras 2's rule); Keras 3 always makes it go_backwards=True and so
    raises for a go_backwards layer. Compare against Keras given that twin explicitly."""
    flags = {"return_sequences": True, "return_state": True}
    with pytest.raises(ValueError, match="different `go_backwards`"):
        keras.layers.Bidirectional(keras.layers.GRU(H, go_backwards=True, **flags))
    klayer = keras.layers.Bidirectional(
        keras.layers.GRU(H, go_backwards=True, **flags),
        backward_layer=keras.layers.GRU(H, go_backwards=False, **flags),
        merge_mode=None,
    )
    ours = rk.Bidirectional(rk.GRU(H, go_backwards=True, **flags), merge_mode=None)
    assert ours.backward_layer.go_backwards is False
    klayer, ours = _link(klayer, ours)
    check(klayer, ours, _inputs(), mask=_mask("left"))


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_stateful_with_mask(kind: str) -> None:
    klayer, ours = make_pair(kind, stateful=True, return_sequences=True, return_state=True)
    for x, mask in ((_inputs(0), _mask("right")), (_inputs(1), _mask("holes"))):
        assert_same(ours(torch.from_numpy(x), mask=torch.from_numpy(mask)), klayer(x, mask=mask))


# ---------------------------------------------------------- stateful
@pytest.mark.parametrize("kind", [*KINDS, "Bidirectional"])
@pytest.mark.parametrize("use_fused", FUSED)
def test_stateful_two_calls_then_reset(kind: str, use_fused: str | bool) -> None:
    if kind == "Bidirectional":
        # No return_state here: Keras 3.15's Bidirectional.compute_mask crashes on stateful +
        # return_state (`generator * int`), a Keras bug, not a semantic we could compare.
        klayer = keras.layers.Bidirectional(keras.layers.LSTM(H, stateful=True))
        ours = rk.Bidirectional(rk.LSTM(H, stateful=True, use_fused=use_fused))
        klayer, ours = _link(klayer, ours)
    else:
        klayer, ours = make_pair(kind, stateful=True, return_state=True)
        ours.use_fused = use_fused
    x1, x2 = _inputs(0), _inputs(1)
    for x in (x1, x2):  # the second call starts from the first call's final states
        assert_same(ours(torch.from_numpy(x)), klayer(x))
    ours.reset_states()
    klayer.reset_state()
    assert_same(ours(torch.from_numpy(x2)), klayer(x2))


# ---------------------------------------------------------- dropout off at inference
@pytest.mark.parametrize("kind", KINDS)
def test_dropout_is_off_at_inference(kind: str) -> None:
    klayer, ours = make_pair(
        kind, dropout=0.3, recurrent_dropout=0.4, return_sequences=True, return_state=True
    )
    x = _inputs()
    theirs = klayer(x, training=False)
    plain = make_pair(kind, return_sequences=True, return_state=True)[1]
    from_keras(plain, klayer.get_weights())
    for run in _fused_runs(ours, torch.from_numpy(x), training=False):
        assert_same(run, theirs)
        assert_same(run, plain(torch.from_numpy(x)))
    # Documented difference (layers/base.py): training=None resolves to the torch module's
    # mode, and a new module is in training mode, where Keras's layer(x) means inference.
    assert ours.training
    assert not np.allclose(_to_np(ours(torch.from_numpy(x))[0]), _to_np(theirs[0]), atol=ATOL)
    ours.eval()
    assert_same(ours(torch.from_numpy(x)), theirs)


# ---------------------------------------------------------- deep stacks
STACKS = [("LSTM", "LSTM"), ("GRU", "SimpleRNN"), ("GRU-v1", "LSTM", "GRU")]


def _cells(lib: Any, stack: tuple[str, ...]) -> list[Any]:
    return [getattr(lib, CELLS[k])(H, **KINDS[k][1]) for k in stack]


@pytest.mark.parametrize("stack", STACKS, ids="+".join)
@pytest.mark.parametrize("mask_name", [None, "holes", "right"])
@pytest.mark.parametrize("return_sequences,go_backwards", list(itertools.product((False, True), repeat=2)))
def test_stacked_cells(
    stack: tuple[str, ...], mask_name: str | None, return_sequences: bool, go_backwards: bool
) -> None:
    flags = {"return_sequences": return_sequences, "return_state": True, "go_backwards": go_backwards}
    klayer = keras.layers.RNN(_cells(keras.layers, stack), **flags)
    ours = rk.RNN(_cells(rk, stack), **flags)
    klayer, ours = _link(klayer, ours)
    kwargs = {} if mask_name is None else {"mask": _mask(mask_name)}
    # Keras nests the states per cell ([h1, c1], [h2, c2]); rnnkit returns them flat (documented).
    check(klayer, ours, _inputs(), **kwargs)


def test_stacked_cells_initial_state_nested_or_flat() -> None:
    stack = ("LSTM", "GRU")
    klayer = keras.layers.RNN(_cells(keras.layers, stack), return_state=True)
    ours = rk.RNN(_cells(rk, stack), return_state=True)
    klayer, ours = _link(klayer, ours)
    h1, c1, h2 = (_inputs(10 + i, (B, H)) for i in range(3))
    theirs = klayer(_inputs(), initial_state=[[h1, c1], [h2]])
    x = torch.from_numpy(_inputs())
    for state0 in ([[h1, c1], [h2]], [h1, c1, h2]):
        assert_same(ours(x, initial_state=_torch_tree(state0)), theirs)


# ---------------------------------------------------------- activations (reference kernel)
ACTIVATIONS = [
    ("SimpleRNN", {"activation": "relu"}),
    ("SimpleRNN", {"activation": "hard_sigmoid"}),
    ("LSTM", {"activation": "relu"}),
    ("LSTM", {"recurrent_activation": "hard_sigmoid"}),
    ("GRU", {"activation": "relu"}),
    ("GRU", {"recurrent_activation": "hard_sigmoid"}),
    ("GRU-v1", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
]


@pytest.mark.parametrize(
    "kind,acts", ACTIVATIONS, ids=lambda v: v if isinstance(v, str) else "-".join(v.values())
)
def test_other_activations(kind: str, acts: dict[str, str]) -> None:
    klayer, ours = make_pair(kind, return_sequences=True, return_state=True, **acts)
    check(klayer, ours, _inputs(), mask=_mask("right"))
    if kind != "SimpleRNN":  # relu SimpleRNN is torch's rnn_relu, still fused
        ours(torch.from_numpy(_inputs()))
        # The fused kernels refuse these activations; rnnkit's own kernels run them.
        assert ours.last_kernel.name in ("fast:python", "reference")
        assert "activation" in ours.last_kernel.reason


# ---------------------------------------------------------- to_keras round trip
def _twins(kind: str) -> tuple[Any, Any]:
    flags = {"return_sequences": True, "return_state": True}
    if kind == "Bidirectional":
        return keras.layers.Bidirectional(keras.layers.GRU(H, **flags)), rk.Bidirectional(rk.GRU(H, **flags))
    if kind == "stack":
        stack = ("LSTM", "GRU-v1")
        return keras.layers.RNN(_cells(keras.layers, stack), **flags), rk.RNN(_cells(rk, stack), **flags)
    cls, extra = KINDS[kind]
    return getattr(keras.layers, cls)(H, **extra, **flags), getattr(rk, cls)(H, **extra, **flags)


@pytest.mark.parametrize("kind", [*KINDS, "Bidirectional", "stack"])
def test_to_keras_round_trip(kind: str) -> None:
    klayer, ours = _twins(kind)
    ours.build((B, T, D))
    with torch.no_grad():  # every weight random, bias_hh included (to_keras must fold it in)
        for p in ours.parameters():
            p.uniform_(-0.5, 0.5)
    klayer.build((B, T, D))
    klayer.set_weights(to_keras(ours))
    check(klayer, ours, _inputs(), mask=_mask("holes"))


@pytest.mark.parametrize("kind", KINDS)
def test_from_keras_config(kind: str) -> None:
    """A Keras layer's get_config() (Keras's initializer dicts, dtype policy ...) builds the rnnkit twin."""
    cls, extra = KINDS[kind]
    # (Not unroll here: Keras 3.15's torch backend crashes on unroll + go_backwards + mask.)
    flags = {"return_sequences": True, "return_state": True, "go_backwards": True}
    klayer = getattr(keras.layers, cls)(H, activation="relu", dropout=0.2, **extra, **flags)
    ours = getattr(rk, cls).from_config(klayer.get_config())
    klayer, ours = _link(klayer, ours)
    check(klayer, ours, _inputs(), mask=_mask("left"), training=False)


# ---------------------------------------------------------- odd corners
@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_one_step_other_shapes_and_float64(kind: str) -> None:
    flags = {"return_sequences": True, "return_state": True}
    klayer, ours = make_pair(kind, **flags)
    check(klayer, ours, _inputs(shape=(B, 1, D)))  # T = 1
    check(klayer, ours, _inputs(shape=(2, 9, D)), mask=_mask("holes")[:2].repeat(2, axis=1)[:, :9])
    cls, extra = KINDS[kind]
    k64 = getattr(keras.layers, cls)(H, dtype="float64", **extra, **flags)
    o64 = getattr(rk, cls)(H, **extra, **flags)
    o64(torch.zeros(B, T, D, dtype=torch.float64))  # weights follow the first input's dtype
    k64, o64 = _link(k64, o64)
    x64 = _inputs().astype("float64")
    for run in _fused_runs(o64, torch.from_numpy(x64)):
        assert all(t.dtype == torch.float64 for t in run)
        # 1e-5, not 1e-12: Keras's own float64 SimpleRNN is off by ~1e-7 from a NumPy loop.
        assert_same(run, k64(x64))


def test_stateful_stack_with_dropout_and_initial_state() -> None:
    cells = {"dropout": 0.3, "recurrent_dropout": 0.3}
    klayer = keras.layers.RNN(
        [keras.layers.LSTMCell(H, **cells), keras.layers.GRUCell(H, **cells)],
        stateful=True,
        return_state=True,
    )
    ours = rk.RNN([rk.LSTMCell(H, **cells), rk.GRUCell(H, **cells)], stateful=True, return_state=True)
    klayer, ours = _link(klayer, ours)
    ours.eval()
    state0 = [_inputs(10 + i, (B, H)) for i in range(3)]
    x1, x2 = _inputs(0), _inputs(1)
    theirs = klayer(x1, initial_state=[state0[:2], state0[2:]])  # Keras: nested per cell
    assert_same(ours(torch.from_numpy(x1), initial_state=_torch_tree(state0)), theirs)
    assert_same(ours(torch.from_numpy(x2)), klayer(x2))  # carries on from the states of call 1
