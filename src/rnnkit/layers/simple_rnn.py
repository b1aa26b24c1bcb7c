"""SimpleRNN: the fully connected (Elman) recurrence.

    h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)      act = tanh by default

Backprop through T steps multiplies T Jacobians diag(act'(.)) W_hh: unless W_hh's
spectral radius sits near 1 the gradient shrinks or grows geometrically, which
is why SimpleRNN forgets long-range dependencies (see the vanishing-gradient lab).
"""

from __future__ import annotations

from typing import Any

from rnnkit.layers.cell import RecurrentCell, base_args
from rnnkit.layers.recurrent import BuiltinRNN


class SimpleRNNCell(RecurrentCell):
    """One step of SimpleRNN; weights ``weight_ih (H, D)``, ``weight_hh (H, H)``, ``bias_ih``, ``bias_hh``."""

    kind = "rnn"

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        zoneout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**base_args(locals()))


class SimpleRNN(BuiltinRNN):
    """Keras's ``SimpleRNN`` layer: an :class:`~rnnkit.layers.recurrent.RNN` around a ``SimpleRNNCell``."""

    cell_class = SimpleRNNCell
    cell_name = "simple_rnn_cell"

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
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
