"""LSTM (Hochreiter & Schmidhuber 1997), gates in PyTorch's and Keras's order i, f, g, o.

    i, f, g, o = split(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
    h_t = sigmoid(o) * tanh(c_t)

The additive cell update gives the gradient a path through time whose factor is
the forget gate, not a product of weight matrices: with f near 1 (hence Keras's
``unit_forget_bias``: forget-gate bias starts at 1) errors flow back over hundreds of steps.

``layer_norm=True`` normalizes x W_ih^T and h W_hh^T separately and c_t before the
output tanh (haste's LayerNormLSTM; Ba et al. 2016). ``zoneout`` keeps each unit
of h_{t-1} with that probability in training (Krueger et al. 2016).
"""

from __future__ import annotations

from typing import Any

import torch

from rnnkit.layers.cell import RecurrentCell, base_args
from rnnkit.layers.recurrent import BuiltinRNN


class LSTMCell(RecurrentCell):
    """One LSTM step; weights ``weight_ih (4H, D)``, ``weight_hh (4H, H)``, ``bias_ih``, ``bias_hh``."""

    kind = "lstm"

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        unit_forget_bias: bool = True,
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        layer_norm: bool = False,
        zoneout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**base_args(locals(), drop=("unit_forget_bias",)))
        self.unit_forget_bias = bool(unit_forget_bias)

    @torch.no_grad()
    def _adjust_bias_init(self) -> None:
        if self.unit_forget_bias:
            H = self.units
            self.bias_ih[H : 2 * H] = 1.0  # Keras: forget-gate bias starts at 1 (Jozefowicz et al. 2015)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class LSTM(BuiltinRNN):
    """Keras's ``LSTM`` layer: an :class:`~rnnkit.layers.recurrent.RNN` around an :class:`LSTMCell`.

    Fused kernel (oneDNN on CPU, cuDNN on GPU) when: activation tanh, recurrent_activation
    sigmoid, no recurrent_dropout in training, no layer_norm or zoneout, unroll=False, and
    no mask or a right-padded mask. Otherwise the reference loop runs (``last_kernel`` says why).
    """

    cell_class = LSTMCell
    cell_name = "lstm_cell"

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        unit_forget_bias: bool = True,
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        layer_norm: bool = False,
        zoneout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        use_fused: str | bool = "auto",
        **kwargs: Any,
    ) -> None:
        self._init_from_args(locals())
