"""GRU (Cho et al. 2014), gates in PyTorch's order r, z, n.

    r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)
    z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))        reset_after=True (default)
    n = tanh(x W_in^T + b_in + (r * h) W_hn^T + b_hn)        reset_after=False (the paper, Keras 2)
    h_t = z * h_{t-1} + (1 - z) * n

``reset_after=True`` is cuDNN's and PyTorch's variant (and Keras 3's default); only
it can run on the fused kernels. Keras stores gates as z, r, h: the converters in
:mod:`rnnkit.layers.convert` reorder them.
"""

from __future__ import annotations

from typing import Any

from rnnkit.errors import ConfigError, invalid
from rnnkit.layers.cell import RecurrentCell, base_args
from rnnkit.layers.recurrent import BuiltinRNN


class GRUCell(RecurrentCell):
    """One GRU step; weights ``weight_ih (3H, D)``, ``weight_hh (3H, H)``, ``bias_ih``, ``bias_hh``."""

    kind = "gru"

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
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
        reset_after: bool = True,
        seed: int | None = None,
        layer_norm: bool = False,
        zoneout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        if layer_norm and not reset_after:
            raise ConfigError(invalid("layer_norm", layer_norm, "False when reset_after=False"))
        super().__init__(**base_args(locals(), drop=("reset_after",)))
        self.reset_after = bool(reset_after)

    def _bias_hh_initializer(self) -> Any:
        # Keras's reset_after bias is (2, 3H), both rows from bias_initializer; reset_after=False has one.
        return self.bias_initializer if self.reset_after else "zeros"

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "reset_after": self.reset_after}


class GRU(BuiltinRNN):
    """Keras's ``GRU`` layer: an :class:`~rnnkit.layers.recurrent.RNN` around a :class:`GRUCell`.

    Fused kernel when: tanh/sigmoid, reset_after=True, no recurrent_dropout in training,
    no layer_norm or zoneout, unroll=False, and no mask or a right-padded mask.
    """

    cell_class = GRUCell
    cell_name = "gru_cell"

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
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
        reset_after: bool = True,
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
