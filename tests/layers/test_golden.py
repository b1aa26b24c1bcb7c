"""Golden values: numbers that do not come from running rnnkit.

1. Keras 3's own correctness tests, ported: the same inputs (``np.arange`` sequences),
   the same ``Constant(0.01 / 0.02 / 0.03)`` initializers and the expected arrays copied
   verbatim from ``keras/src/layers/rnn/{simple_rnn,lstm,gru,bidirectional,rnn,
   stacked_rnn_cells}_test.py`` (Keras 3.15.1). Each case runs with ``use_fused="auto"``
   and ``use_fused=False``. ``rows([a, b], n)`` writes Keras's ``[[a]*n, [b]*n]``: with
   constant weights every unit of a row is equal.
2. One tiny case per cell (H = D = 1, T = 2) worked out by hand in a comment, with
   weights chosen so the arithmetic can be checked on paper: tanh(ln a) = (a^2-1)/(a^2+1)
   (tanh(ln 2) = 0.6, tanh(ln 3) = 0.8) and sigmoid(ln k) = k/(k+1) (sigmoid(ln 3) = 0.75).

These catch what weight-copy parity cannot: a wrong default (unit_forget_bias, the
GRU variant, the initializer of a second bias), the direction of time, mask handling.
Keras's ``implementation=1/2`` argument is not ported (rnnkit has one implementation).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import pytest
import torch

from rnnkit import kernels
from rnnkit import layers as rk
from rnnkit.core.initializers import Constant
from rnnkit.layers.base import Layer

ATOL = RTOL = 1e-5
CONST = {
    "kernel_initializer": Constant(0.01),
    "recurrent_initializer": Constant(0.02),
    "bias_initializer": Constant(0.03),
}
FUSED = ("auto", False, "reference")  # "reference": kernels.force("reference")
MASK_HOLES = [[True, True, False, True], [True, False, False, True]]  # simple_rnn/gru test_masking
MASK_RIGHT = [[True, True, True, False], [True, True, False, False]]  # lstm/rnn test_masking
MASK_LEFT = [[False, True, True, True], [False, False, True, True]]  # lstm backwards_mask


def seq(*shape: int) -> np.ndarray:
    return np.arange(math.prod(shape)).reshape(shape).astype("float32")


def rows(values: list[float], units: int) -> np.ndarray:
    """Keras's ``[[v0] * units, [v1] * units, ...]``."""
    return np.repeat(np.asarray(values, dtype="float32")[:, None], units, axis=1)


def _t(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return torch.from_numpy(v)
    if isinstance(v, list) and v and isinstance(v[0], list) and isinstance(v[0][0], bool):
        return torch.tensor(v)
    if isinstance(v, list):
        return [_t(s) for s in v]
    return v


def assert_golden(out: Any, expected: Any) -> None:
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    exps = expected if isinstance(expected, list) else [expected]
    assert len(outs) == len(exps), f"{len(outs)} outputs, expected {len(exps)}"
    for i, (o, e) in enumerate(zip(outs, exps, strict=True)):
        np.testing.assert_allclose(o.detach().numpy(), e, atol=ATOL, rtol=RTOL, err_msg=f"output {i}")


def _set_fused(layer: Layer, use_fused: str | bool) -> contextlib.AbstractContextManager[None]:
    """Set use_fused on every RNN inside; "reference" keeps "auto" and returns force("reference")."""
    for m in layer.modules():
        if isinstance(m, rk.RNN):
            m.use_fused = "auto" if use_fused == "reference" else use_fused
    return kernels.force("reference") if use_fused == "reference" else contextlib.nullcontext()


# -------------------------------------------------------------------- Keras's test_correctness & co.
# (id, layer factory, input, call kwargs, expected)
CASES: list[tuple[str, Any, np.ndarray, dict[str, Any], Any]] = [
    # simple_rnn_test.py::test_correctness
    ("simple_rnn", lambda: rk.SimpleRNN(4, **CONST), seq(2, 3, 4), {}, rows([0.405432, 0.73605347], 4)),
    (
        "simple_rnn-unroll",
        lambda: rk.SimpleRNN(4, unroll=True, **CONST),
        seq(2, 3, 4),
        {},
        rows([0.405432, 0.73605347], 4),
    ),
    (
        "simple_rnn-go_backwards",
        lambda: rk.SimpleRNN(4, go_backwards=True, **CONST),
        seq(2, 3, 4),
        {},
        rows([0.11144729, 0.5528889], 4),
    ),
    # simple_rnn_test.py::test_pass_initial_state
    (
        "simple_rnn-initial_state",
        lambda: rk.SimpleRNN(4, **CONST),
        seq(2, 4, 3),
        {"initial_state": seq(2, 4)},
        rows([0.33621645, 0.6262637], 4),
    ),
    (
        "simple_rnn-initial_state-go_backwards",
        lambda: rk.SimpleRNN(4, go_backwards=True, **CONST),
        seq(2, 4, 3),
        {"initial_state": seq(2, 4)},
        rows([0.07344437, 0.43043602], 4),
    ),
    # simple_rnn_test.py::test_masking
    (
        "simple_rnn-mask-unroll",
        lambda: rk.SimpleRNN(4, unroll=True, **CONST),
        seq(2, 4, 3),
        {"mask": MASK_HOLES},
        rows([0.32951632, 0.61799484], 4),
    ),
    (
        "simple_rnn-mask-sequences",
        lambda: rk.SimpleRNN(2, return_sequences=True, **CONST),
        seq(2, 4, 3),
        {"mask": MASK_HOLES},
        np.stack(
            [
                rows([0.0599281, 0.15122814, 0.15122814, 0.32394567], 2),
                rows([0.3969304, 0.3969304, 0.3969304, 0.608085], 2),
            ]
        ),
    ),
    (
        "simple_rnn-mask-zero_output",
        lambda: rk.SimpleRNN(2, return_sequences=True, zero_output_for_mask=True, **CONST),
        seq(2, 4, 3),
        {"mask": MASK_HOLES},
        np.stack(
            [
                rows([0.0599281, 0.15122814, 0.0, 0.32394567], 2),
                rows([0.3969304, 0.0, 0.0, 0.608085], 2),
            ]
        ),
    ),
    (
        "simple_rnn-mask-go_backwards",
        lambda: rk.SimpleRNN(4, go_backwards=True, **CONST),
        seq(2, 4, 3),
        {"mask": MASK_HOLES},
        rows([0.07376196, 0.43645123], 4),
    ),
    # lstm_test.py::test_correctness
    ("lstm", lambda: rk.LSTM(3, **CONST), seq(3, 6, 4), {}, rows([0.6288687, 0.86899155, 0.9460773], 3)),
    (
        "lstm-go_backwards",
        lambda: rk.LSTM(3, go_backwards=True, **CONST),
        seq(3, 6, 4),
        {},
        rows([0.35622165, 0.74789524, 0.8872726], 3),
    ),
    (
        "lstm-unroll",
        lambda: rk.LSTM(3, unroll=True, **CONST),
        seq(3, 6, 4),
        {},
        rows([0.6288687, 0.86899155, 0.9460773], 3),
    ),
    (
        "lstm-no_unit_forget_bias",
        lambda: rk.LSTM(3, unit_forget_bias=False, **CONST),
        seq(3, 6, 4),
        {},
        rows([0.57019705, 0.8661914, 0.9459622], 3),
    ),
    (
        "lstm-no_bias",
        lambda: rk.LSTM(3, use_bias=False, **CONST),
        seq(3, 6, 4),
        {},
        rows([0.54986924, 0.86226785, 0.9443936], 3),
    ),
    # lstm_test.py::test_pass_initial_state
    (
        "lstm-initial_state",
        lambda: rk.LSTM(2, **CONST),
        seq(2, 4, 3),
        {"initial_state": [seq(2, 2), seq(2, 2)]},
        np.array([[0.20574439, 0.3558822], [0.64930826, 0.66276]]),
    ),
    (
        "lstm-initial_state-go_backwards",
        lambda: rk.LSTM(2, go_backwards=True, **CONST),
        seq(2, 4, 3),
        {"initial_state": [seq(2, 2), seq(2, 2)]},
        np.array([[0.13281618, 0.2790356], [0.5839337, 0.5992567]]),
    ),
    # lstm_test.py::test_masking
    (
        "lstm-mask-unroll",
        lambda: rk.LSTM(2, unroll=True, **CONST),
        seq(2, 4, 3),
        {"mask": MASK_RIGHT},
        rows([0.11755939, 0.28556206], 2),
    ),
    (
        "lstm-mask-sequences",
        lambda: rk.LSTM(2, return_sequences=True, **CONST),
        seq(2, 4, 3),
        {"mask": MASK_RIGHT},
        np.stack(
            [
                rows([0.01588910, 0.05552048, 0.11755939, 0.11755939], 2),
                rows([0.14185596, 0.28556206, 0.28556206, 0.28556206], 2),
            ]
        ),
    ),
    (
        "lstm-mask-zero_output",
        lambda: rk.LSTM(2, return_sequences=True, zero_output_for_mask=True, **CONST),
        seq(2, 4, 3),
        {"mask": MASK_RIGHT},
        np.stack(
            [
                rows([0.01588910, 0.05552048, 0.11755939, 0.0], 2),
                rows([0.14185596, 0.28556206, 0.0, 0.0], 2),
            ]
        ),
    ),
    (
        "lstm-mask-go_backwards",
        lambda: rk.LSTM(2, go_backwards=True, **CONST),
        seq(2, 4, 3),
        {"mask": MASK_LEFT},
        rows([0.15341201, 0.3844719], 2),
    ),
    # gru_test.py::test_correctness (Keras writes the last row as 0.39384964, 0.39384964, 0.3938496)
    ("gru", lambda: rk.GRU(3, **CONST), seq(3, 6, 4), {}, rows([0.5217289, 0.6371659, 0.39384964], 3)),
    (
        "gru-go_backwards",
        lambda: rk.GRU(3, go_backwards=True, **CONST),
        seq(3, 6, 4),
        {},
        rows([0.24406259, 0.611516, 0.3928808], 3),
    ),
    (
        "gru-unroll",
        lambda: rk.GRU(3, unroll=True, **CONST),
        seq(3, 6, 4),
        {},
        rows([0.5217289, 0.6371659, 0.39384964], 3),
    ),
    (
        "gru-reset_after_false",
        lambda: rk.GRU(3, reset_after=False, **CONST),
        seq(3, 6, 4),
        {},
        rows([0.51447755, 0.6426879, 0.40208298], 3),
    ),
    (
        "gru-no_bias",
        lambda: rk.GRU(3, use_bias=False, **CONST),
        seq(3, 6, 4),
        {},
        rows([0.49988455, 0.64701194, 0.4103359], 3),
    ),
    # gru_test.py::test_pass_initial_state and ::test_pass_return_state (state == output)
    (
        "gru-initial_state-return_state",
        lambda: rk.GRU(2, return_state=True, **CONST),
        seq(2, 4, 3),
        {"initial_state": seq(2, 2)},
        [np.array([[0.23774096, 0.33508456], [0.83659905, 1.0227708]])] * 2,
    ),
    (
        "gru-initial_state-return_state-go_backwards",
        lambda: rk.GRU(2, return_state=True, go_backwards=True, **CONST),
        seq(2, 4, 3),
        {"initial_state": seq(2, 2)},
        [np.array([[0.13486053, 0.23261218], [0.78257304, 0.9691353]])] * 2,
    ),
    # gru_test.py::test_masking
    (
        "gru-mask-unroll",
        lambda: rk.GRU(2, unroll=True, **CONST),
        seq(2, 4, 3),
        {"mask": MASK_HOLES},
        rows([0.19393763, 0.30818558], 2),
    ),
    (
        "gru-mask-sequences",
        lambda: rk.GRU(2, return_sequences=True, **CONST),
        seq(2, 4, 3),
        {"mask": MASK_HOLES},
        np.stack(
            [
                rows([0.03606692, 0.09497581, 0.09497581, 0.19393763], 2),
                rows([0.16051409, 0.16051409, 0.16051409, 0.30818558], 2),
            ]
        ),
    ),
    (
        "gru-mask-zero_output",
        lambda: rk.GRU(2, return_sequences=True, zero_output_for_mask=True, **CONST),
        seq(2, 4, 3),
        {"mask": MASK_HOLES},
        np.stack(
            [
                rows([0.03606692, 0.09497581, 0.0, 0.19393763], 2),
                rows([0.16051409, 0.0, 0.0, 0.30818558], 2),
            ]
        ),
    ),
    (
        "gru-mask-go_backwards",
        lambda: rk.GRU(2, go_backwards=True, **CONST),
        seq(2, 4, 3),
        {"mask": MASK_HOLES},
        rows([0.11669192, 0.28380975], 2),
    ),
    # bidirectional_test.py::test_correctness
    (
        "bidirectional-concat",
        lambda: rk.Bidirectional(rk.SimpleRNN(2, **CONST)),
        seq(2, 3, 4),
        {},
        np.array(
            [[0.39687276, 0.39687276, 0.10004295, 0.10004295], [0.7237238, 0.7237238, 0.53391594, 0.53391594]]
        ),
    ),
    (
        "bidirectional-ave",
        lambda: rk.Bidirectional(rk.SimpleRNN(2, **CONST), merge_mode="ave"),
        seq(2, 3, 4),
        {},
        rows([0.24845785, 0.6288199], 2),
    ),
    (
        "bidirectional-none",
        lambda: rk.Bidirectional(rk.SimpleRNN(2, **CONST), merge_mode=None),
        seq(2, 3, 4),
        {},
        [rows([0.39687276, 0.7237238], 2), rows([0.10004295, 0.53391594], 2)],
    ),
    (
        "bidirectional-mul-backward_layer",
        lambda: rk.Bidirectional(
            rk.SimpleRNN(2, **CONST),
            backward_layer=rk.SimpleRNN(
                2,
                kernel_initializer=Constant(0.03),
                recurrent_initializer=Constant(0.02),
                bias_initializer=Constant(0.01),
                go_backwards=True,
            ),
            merge_mode="mul",
        ),
        seq(2, 3, 4),
        {},
        rows([0.08374989, 0.6740834], 2),
    ),
    (
        "bidirectional-sum-gru-sequences",
        lambda: rk.Bidirectional(rk.GRU(2, return_sequences=True, **CONST), merge_mode="sum"),
        seq(2, 3, 4),
        {},
        np.stack(
            [rows([0.20937867, 0.34462988, 0.40290534], 2), rows([0.59829646, 0.6734641, 0.6479671], 2)]
        ),
    ),
    # bidirectional_test.py::test_pass_initial_state (h_fwd, c_fwd, h_bwd, c_bwd)
    (
        "bidirectional-initial_state",
        lambda: rk.Bidirectional(rk.LSTM(2, **CONST)),
        seq(2, 4, 3),
        {"initial_state": [seq(2, 2) * k for k in (1, 2, 3, 4)]},
        np.array(
            [[0.20794602, 0.4577124, 0.14046375, 0.48191673], [0.6682636, 0.6711909, 0.60943645, 0.60950446]]
        ),
    ),
    # bidirectional_test.py::test_masking
    (
        "bidirectional-mask",
        lambda: rk.Bidirectional(rk.GRU(2, **CONST)),
        seq(2, 4, 3),
        {"mask": MASK_HOLES},
        np.array(
            [
                [0.19393763, 0.19393763, 0.11669192, 0.11669192],
                [0.30818558, 0.30818558, 0.28380975, 0.28380975],
            ]
        ),
    ),
    # bidirectional_test.py::test_return_state: output, h_fwd, c_fwd, h_bwd, c_bwd
    (
        "bidirectional-return_state",
        lambda: rk.Bidirectional(rk.LSTM(2, return_state=True, **CONST)),
        seq(2, 4, 3),
        {},
        [
            np.array(
                [
                    [0.1990008, 0.1990008, 0.12659755, 0.12659755],
                    [0.52335435, 0.52335435, 0.44717982, 0.44717982],
                ]
            ),
            rows([0.1990008, 0.52335435], 2),
            rows([0.35567185, 1.0492687], 2),
            rows([0.12659755, 0.44717982], 2),
            rows([0.2501858, 0.941473], 2),
        ],
    ),
]


@pytest.mark.parametrize("use_fused", FUSED)
@pytest.mark.parametrize("make,x,kwargs,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_keras_golden(
    make: Any, x: np.ndarray, kwargs: dict[str, Any], expected: Any, use_fused: str | bool
) -> None:
    layer = make()
    with _set_fused(layer, use_fused):
        assert_golden(layer(torch.from_numpy(x), **{k: _t(v) for k, v in kwargs.items()}), expected)


def test_keras_initializer_dicts_give_the_same_golden_values() -> None:
    # keras.initializers.serialize(Constant(0.01)) etc., verbatim: what a Keras config holds.
    const = {
        k: {
            "module": "keras.initializers",
            "class_name": "Constant",
            "config": {"value": v.value},
            "registered_name": None,
        }
        for k, v in CONST.items()
    }
    assert_golden(
        rk.LSTM(3, **const)(torch.from_numpy(seq(3, 6, 4))), rows([0.6288687, 0.86899155, 0.9460773], 3)
    )


# *_test.py::test_statefulness: the output of the second of two calls, then the same after reset.
STATEFUL = [
    (
        "simple_rnn",
        lambda: rk.SimpleRNN(4, stateful=True, **CONST),
        seq(2, 3, 4),
        rows([0.40559256, 0.7361247], 4),
    ),
    ("lstm", lambda: rk.LSTM(4, stateful=True, **CONST), seq(2, 3, 4), rows([0.3124785, 0.6863672], 4)),
    ("gru", lambda: rk.GRU(4, stateful=True, **CONST), seq(2, 3, 4), rows([0.29542392, 0.5885018], 4)),
    (
        "bidirectional",
        lambda: rk.Bidirectional(rk.LSTM(2, stateful=True, **CONST)),
        seq(2, 4, 3),
        np.array(
            [[0.26234663, 0.26234663, 0.16959146, 0.16959146], [0.6137073, 0.6137073, 0.5381646, 0.5381646]]
        ),
    ),
]


@pytest.mark.parametrize("use_fused", FUSED)
@pytest.mark.parametrize("make,x,expected", [c[1:] for c in STATEFUL], ids=[c[0] for c in STATEFUL])
def test_keras_golden_stateful(make: Any, x: np.ndarray, expected: np.ndarray, use_fused: str | bool) -> None:
    layer = make()
    x_t = torch.from_numpy(x)
    with _set_fused(layer, use_fused):
        for _ in range(2):  # after reset_states the two calls give the same numbers again
            layer(x_t)
            assert_golden(layer(x_t), expected)
            layer.reset_states()


# -------------------------------------------------------------------- rnn_test / stacked_rnn_cells_test
class OneStateRNNCell(Layer):
    """rnn_test.py's cell, written against rnnkit's cell contract: out = x K + h R, all-ones weights."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = self.state_size = units

    def build(self, input_shape: Any) -> None:
        self.add_weight("kernel", (input_shape[-1], self.units), "ones")
        self.add_weight("recurrent_kernel", (self.units, self.units), "ones")
        super().build(input_shape)

    def call(self, inputs: torch.Tensor, states: Any) -> tuple[torch.Tensor, list[torch.Tensor]]:
        out = inputs @ self.kernel + states[0] @ self.recurrent_kernel
        return out, [out]


class TwoStatesRNNCell(Layer):
    """rnn_test.py's two-state cell (which, as Keras's, reads states[0] for both recurrences)."""

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = self.output_size = units
        self.state_size = [units, units]

    def build(self, input_shape: Any) -> None:
        self.add_weight("kernel", (input_shape[-1], self.units), "ones")
        self.add_weight("recurrent_kernel_1", (self.units, self.units), "ones")
        self.add_weight("recurrent_kernel_2", (self.units, self.units), "ones")
        super().build(input_shape)

    def call(self, inputs: torch.Tensor, states: Any) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h = inputs @ self.kernel
        out_1 = h + states[0] @ self.recurrent_kernel_1
        out_2 = h + states[0] @ self.recurrent_kernel_2
        return out_1 + out_2, [out_1, out_2]


USER_CELLS: list[tuple[str, Any, np.ndarray, dict[str, Any], Any]] = [
    # rnn_test.py::test_forward_pass_single_state / two_states
    (
        "one_state",
        lambda: rk.RNN(OneStateRNNCell(2), return_sequences=True, return_state=True),
        np.ones((1, 2, 3), "float32"),
        {},
        [np.array([[[3.0, 3.0], [9.0, 9.0]]]), np.array([[9.0, 9.0]])],
    ),
    (
        "two_states",
        lambda: rk.RNN(TwoStatesRNNCell(2), return_sequences=True, return_state=True),
        np.ones((1, 2, 3), "float32"),
        {},
        [np.array([[[6.0, 6.0], [18.0, 18.0]]]), np.array([[9.0, 9.0]]), np.array([[9.0, 9.0]])],
    ),
    # rnn_test.py::test_passing_initial_state_two_states
    (
        "two_states-initial_state",
        lambda: rk.RNN(TwoStatesRNNCell(2), return_state=True),
        np.ones((2, 3, 2), "float32"),
        {"initial_state": [np.ones((2, 2), "float32")] * 2},
        [rows([44.0, 44.0], 2), rows([22.0, 22.0], 2), rows([22.0, 22.0], 2)],
    ),
    # rnn_test.py::test_go_backwards
    (
        "one_state-go_backwards",
        lambda: rk.RNN(OneStateRNNCell(2), go_backwards=True),
        seq(2, 3, 4),
        {},
        rows([202.0, 538.0], 2),
    ),
    # rnn_test.py::test_masking
    (
        "one_state-mask",
        lambda: rk.RNN(OneStateRNNCell(2), return_sequences=True),
        seq(2, 4, 3),
        {"mask": MASK_RIGHT},
        np.stack([rows([3.0, 18.0, 57.0, 57.0], 2), rows([39.0, 126.0, 126.0, 126.0], 2)]),
    ),
    # stacked_rnn_cells_test.py::test_correctness_*_stack (rnnkit returns a stack's states flat)
    (
        "stack-one_state",
        lambda: rk.RNN([OneStateRNNCell(3), OneStateRNNCell(2)], return_sequences=True, return_state=True),
        seq(2, 3, 4),
        {},
        [
            np.stack([rows([18.0, 156.0, 786.0], 2), rows([162.0, 1020.0, 4386.0], 2)]),
            rows([158.0, 782.0], 3),
            rows([786.0, 4386.0], 2),
        ],
    ),
    (
        "stack-two_states",
        lambda: rk.RNN([TwoStatesRNNCell(3), TwoStatesRNNCell(2)], return_state=True),
        seq(2, 3, 4),
        {},
        [
            rows([3144.0, 17544.0], 2),
            rows([158.0, 782.0], 3),
            rows([158.0, 782.0], 3),
            rows([1572.0, 8772.0], 2),
            rows([1572.0, 8772.0], 2),
        ],
    ),
]


@pytest.mark.parametrize(
    "make,x,kwargs,expected", [c[1:] for c in USER_CELLS], ids=[c[0] for c in USER_CELLS]
)
def test_keras_golden_user_cells(make: Any, x: np.ndarray, kwargs: dict[str, Any], expected: Any) -> None:
    layer = make()
    assert_golden(layer(torch.from_numpy(x), **{k: _t(v) for k, v in kwargs.items()}), expected)


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda: rk.RNN(OneStateRNNCell(2), stateful=True), np.array([[45.0, 45.0]])),
        (lambda: rk.RNN(TwoStatesRNNCell(2), stateful=True), np.array([[90.0, 90.0]])),
    ],
    ids=["one_state", "two_states"],
)
def test_keras_golden_user_cells_stateful(make: Any, expected: np.ndarray) -> None:
    # rnn_test.py::test_statefulness_*: ones (1, 2, 3), the second call's output.
    layer, x = make(), torch.ones(1, 2, 3)
    layer(x)
    assert_golden(layer(x), expected)


# -------------------------------------------------------------------- worked out by hand (H = D = 1, T = 2)
LN2, LN3 = math.log(2.0), math.log(3.0)


def _hand_layer(layer: Any, weight_ih: list[float], weight_hh: list[float]) -> Any:
    """Build for D = 1 and set weight_ih (G, 1), weight_hh (G, 1); both biases 0."""
    layer.build((1, 2, 1))
    G = len(weight_ih)
    layer.set_weights(
        [np.array(weight_ih).reshape(G, 1), np.array(weight_hh).reshape(G, 1), np.zeros(G), np.zeros(G)]
    )
    return layer


@pytest.mark.parametrize("use_fused", FUSED)
def test_hand_simple_rnn(use_fused: str | bool) -> None:
    # h_t = tanh(w x_t + u h_{t-1}),  w = ln 2,  u = ln(3) / 0.6,  x = [1, 0],  h_0 = 0
    # h_1 = tanh(ln 2)                  = (4 - 1) / (4 + 1) = 0.6
    # h_2 = tanh(0 + (ln 3 / 0.6) * 0.6) = tanh(ln 3) = (9 - 1) / (9 + 1) = 0.8
    layer = _hand_layer(rk.SimpleRNN(1, return_sequences=True), [LN2], [LN3 / 0.6])
    with _set_fused(layer, use_fused):
        assert_golden(layer(torch.tensor([[[1.0], [0.0]]])), np.array([[[0.6], [0.8]]]))


@pytest.mark.parametrize("use_fused", FUSED)
def test_hand_lstm(use_fused: str | bool) -> None:
    # Gates i, f, g, o; W_ih = [ln 3, 0, ln 3, 0], W_hh = 0, no bias; x = [1, 1]; h_0 = c_0 = 0.
    # Every step: i = sigmoid(ln 3) = 3/4, f = sigmoid(0) = 1/2, g = tanh(ln 3) = 0.8, o = 1/2.
    # c_1 = f c_0 + i g = 0 + 0.75 * 0.8 = 0.6      h_1 = o tanh(c_1) = 0.5 * tanh(0.6) = 0.5 * 0.53704957
    # c_2 = f c_1 + i g = 0.3 + 0.6     = 0.9      h_2 = o tanh(c_2) = 0.5 * tanh(0.9) = 0.5 * 0.71629787
    layer = _hand_layer(rk.LSTM(1, return_sequences=True, return_state=True), [LN3, 0, LN3, 0], [0, 0, 0, 0])
    with _set_fused(layer, use_fused):
        out = layer(torch.tensor([[[1.0], [1.0]]]))
    assert_golden(
        out, [np.array([[[0.26852479], [0.35814894]]]), np.array([[0.35814894]]), np.array([[0.9]])]
    )


@pytest.mark.parametrize("use_fused", FUSED)
def test_hand_gru(use_fused: str | bool) -> None:
    # Gates r, z, n (reset_after=True); W_ih = [0, ln 3, ln 2], W_hh = [0, 0, u], u = ln(1.5) / 0.075,
    # no bias; x = [1, 1]; h_0 = 0.   r = sigmoid(0) = 1/2, z = sigmoid(ln 3) = 3/4 at both steps.
    # n_1 = tanh(ln 2 + r * u * 0)            = 0.6     h_1 = z h_0 + (1 - z) n_1 = 0.25 * 0.6 = 0.15
    # n_2 = tanh(ln 2 + 0.5 * u * 0.15)
    #     = tanh(ln 2 + ln 1.5) = tanh(ln 3)  = 0.8     h_2 = 0.75 * 0.15 + 0.25 * 0.8 = 0.3125
    layer = _hand_layer(rk.GRU(1, return_sequences=True), [0, LN3, LN2], [0, 0, math.log(1.5) / 0.075])
    with _set_fused(layer, use_fused):
        assert_golden(layer(torch.tensor([[[1.0], [1.0]]])), np.array([[[0.15], [0.3125]]]))


def test_hand_gru_reset_after_false() -> None:
    # Same weights plus bias_hh_n = b = 1: where the reset gate applies is the only difference.
    # reset_after=True:  n_1 = tanh(ln 2 + r * (u h_0 + b)) = tanh(ln 2 + 0.5)
    # reset_after=False: n_1 = tanh(ln 2 + u (r h_0) + b)   = tanh(ln 2 + 1)
    # h_1 = (1 - z) n_1 = 0.25 * tanh(1.19314718) = 0.25 * 0.83155238 (reset_after=True)
    #                   = 0.25 * tanh(1.69314718) = 0.25 * 0.93454689 (reset_after=False)
    expected = {True: 0.20788810, False: 0.23363672}
    for reset_after, h1 in expected.items():
        layer = rk.GRU(1, reset_after=reset_after)
        layer.build((1, 1, 1))
        layer.set_weights(
            [np.array([[0.0], [LN3], [LN2]]), np.zeros((3, 1)), np.zeros(3), np.array([0.0, 0.0, 1.0])]
        )
        assert_golden(layer(torch.ones(1, 1, 1)), np.array([[h1]]))


def test_hand_cells_step_by_step() -> None:
    # The same hand cases through the cells' one-step API (Keras's cell contract).
    cell = rk.LSTMCell(1)
    cell.build((1, 1))
    cell.set_weights([np.array([[LN3], [0.0], [LN3], [0.0]]), np.zeros((4, 1)), np.zeros(4), np.zeros(4)])
    state = cell.get_initial_state(1)
    for h_expected, c_expected in ((0.26852479, 0.6), (0.35814894, 0.9)):
        h, state = cell(torch.ones(1, 1), state)
        assert_golden(
            [h, *state], [np.array([[h_expected]]), np.array([[h_expected]]), np.array([[c_expected]])]
        )
