"""Shared machinery of the built-in cells (SimpleRNNCell, LSTMCell, GRUCell).

A cell follows Keras's cell contract -- ``call(inputs_t, states, training) ->
(output_t, new_states)``, ``state_size``, ``output_size``,
``get_initial_state(batch_size)`` -- so it runs one step on its own, inside
:class:`~rnnkit.layers.recurrent.RNN`, or in a user's loop. Built-in cells also
expose :meth:`RecurrentCell.params`, the plain tensors the sequence kernels run
(see :mod:`rnnkit.kernels`).

Weights use PyTorch's layout and names: ``weight_ih (G, D)``, ``weight_hh (G, H)``,
``bias_ih (G,)``, ``bias_hh (G,)``. Keras keeps one bias for SimpleRNN and LSTM;
here ``bias_ih`` starts from ``bias_initializer`` (plus Keras's forget-gate 1s) and
``bias_hh`` from zeros, so the effective bias b_ih + b_hh starts where Keras's does.
Regularizers and constraints on the bias apply to each of the two.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from rnnkit.core import activations
from rnnkit.core import constraints as constraints_mod
from rnnkit.core import initializers as init_mod
from rnnkit.core import regularizers as reg_mod
from rnnkit.core.cells import GATES, STEPS, CellParams, LayerNormParams, input_projection
from rnnkit.errors import ShapeError, invalid
from rnnkit.kernels.reference import zoneout_mix
from rnnkit.layers.base import Layer, Shape
from rnnkit.layers.core_layers import _activation_name, check_last_dim, check_positive_int, check_rate

Tensor = torch.Tensor


class RecurrentCell(Layer):
    """Base of the built-in cells; subclasses set ``kind`` ("rnn", "lstm", "gru")."""

    kind: ClassVar[str] = ""

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
        seed: int | None = None,
        layer_norm: bool = False,
        zoneout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation, argument="recurrent_activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = init_mod.get(kernel_initializer, argument="kernel_initializer")
        self.recurrent_initializer = init_mod.get(recurrent_initializer, argument="recurrent_initializer")
        self.bias_initializer = init_mod.get(bias_initializer, argument="bias_initializer")
        self.kernel_regularizer = reg_mod.get(kernel_regularizer, argument="kernel_regularizer")
        self.recurrent_regularizer = reg_mod.get(recurrent_regularizer, argument="recurrent_regularizer")
        self.bias_regularizer = reg_mod.get(bias_regularizer, argument="bias_regularizer")
        self.kernel_constraint = constraints_mod.get(kernel_constraint, argument="kernel_constraint")
        self.recurrent_constraint = constraints_mod.get(recurrent_constraint, argument="recurrent_constraint")
        self.bias_constraint = constraints_mod.get(bias_constraint, argument="bias_constraint")
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.zoneout = check_rate("zoneout", zoneout)
        self.seed = seed
        self.layer_norm = bool(layer_norm)
        self.input_dim: int | None = None
        self._generator: torch.Generator | None = None
        self._dropout_mask: Tensor | None = None
        self._recurrent_dropout_mask: Tensor | None = None

    # --------------------------------------------------------------- contract
    @property
    def state_size(self) -> int | list[int]:
        return [self.units, self.units] if self.kind == "lstm" else self.units

    @property
    def output_size(self) -> int:
        return self.units

    @property
    def num_states(self) -> int:
        return 2 if self.kind == "lstm" else 1

    def get_initial_state(self, batch_size: int) -> list[Tensor]:
        ref = self.weight_hh
        return [ref.new_zeros(batch_size, self.units) for _ in range(self.num_states)]

    # ----------------------------------------------------------------- weights
    def build(self, input_shape: Shape) -> None:
        if input_shape[-1] is None:
            raise ShapeError(invalid("input_shape", input_shape, "a known feature dimension"))
        self.input_dim = int(input_shape[-1])  # type: ignore[arg-type]
        G, H = GATES[self.kind] * self.units, self.units
        self.add_weight(
            "weight_ih",
            (G, self.input_dim),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.add_weight(
            "weight_hh",
            (G, H),
            self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            for name, init in (("bias_ih", self.bias_initializer), ("bias_hh", self._bias_hh_initializer())):
                self.add_weight(
                    name, (G,), init, regularizer=self.bias_regularizer, constraint=self.bias_constraint
                )
            self._adjust_bias_init()
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        if self.layer_norm:
            for name, size in (("ln_ih", G), ("ln_hh", G)) + (
                (("ln_cell", H),) if self.kind == "lstm" else ()
            ):
                self.add_weight(f"{name}_weight", (size,), "ones")
                self.add_weight(f"{name}_bias", (size,), "zeros")
        super().build(input_shape)

    def _bias_hh_initializer(self) -> Any:
        return "zeros"

    def _adjust_bias_init(self) -> None:
        """Hook: LSTM puts Keras's forget-gate 1s here."""

    def params(self) -> CellParams:
        """The cell's current weights as the plain tensors kernels run."""
        ln = None
        if self.layer_norm:
            ln = LayerNormParams(
                self.ln_ih_weight,
                self.ln_ih_bias,
                self.ln_hh_weight,
                self.ln_hh_bias,
                getattr(self, "ln_cell_weight", None),
                getattr(self, "ln_cell_bias", None),
            )
        return CellParams(
            kind=self.kind,
            weight_ih=self.weight_ih,
            weight_hh=self.weight_hh,
            bias_ih=self.bias_ih,
            bias_hh=self.bias_hh,
            activation=self.activation,
            recurrent_activation=self.recurrent_activation,
            reset_after=getattr(self, "reset_after", True),
            layer_norm=ln,
        )

    # ----------------------------------------------------------------- dropout
    def generator(self, device: torch.device) -> torch.Generator | None:
        """A generator seeded from ``seed`` (new masks each call, reproducible), or None."""
        if self.seed is None:
            return None
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device)
            self._generator.manual_seed(int(self.seed))
        return self._generator

    def _mask(self, like: Tensor, rate: float) -> Tensor:
        keep = torch.rand(like.shape, device=like.device, generator=self.generator(like.device)) >= rate
        return keep.to(like.dtype) / (1.0 - rate)  # inverted dropout: E[mask] = 1

    def dropout_masks(self, x_t: Tensor, h_t: Tensor, training: bool) -> tuple[Tensor | None, Tensor | None]:
        """One input mask (B, D) and one recurrent mask (B, H) per call, reused at every step (Keras)."""
        if not training:
            return None, None
        d = self._mask(x_t, self.dropout) if self.dropout else None
        r = self._mask(h_t, self.recurrent_dropout) if self.recurrent_dropout else None
        return d, r

    def reset_dropout_mask(self) -> None:
        """Forget the cached masks of step-by-step use (Keras's cell API)."""
        self._dropout_mask = None
        self._recurrent_dropout_mask = None

    # ---------------------------------------------------------------- one step
    def call(self, inputs: Tensor, states: Any, training: bool = False) -> tuple[Tensor, list[Tensor]]:
        """One step from x_t (B, D) and the previous states; returns (h_t, new states)."""
        state = (states,) if isinstance(states, Tensor) else tuple(states)
        if len(state) != self.num_states:
            raise ShapeError(invalid("states", f"{len(state)} tensors", f"{self.num_states} tensors"))
        check_last_dim(self, inputs, self.input_dim)
        if training and self._dropout_mask is None and self._recurrent_dropout_mask is None:
            self._dropout_mask, self._recurrent_dropout_mask = self.dropout_masks(inputs, state[0], True)
        if training and self._dropout_mask is not None:
            inputs = inputs * self._dropout_mask
        rmask = self._recurrent_dropout_mask if training else None
        h_in = None if rmask is None else state[0] * rmask
        p = self.params()
        new = STEPS[self.kind](input_projection(inputs, p), state, p, h_in)
        if self.zoneout:
            gen = self.generator(inputs.device)
            new = (zoneout_mix(new[0], state[0], self.zoneout, training, gen), *new[1:])
        return new[0], list(new)

    # ----------------------------------------------------------- serialization
    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            "units": self.units,
            "activation": _activation_name(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": init_mod.serialize(self.kernel_initializer),
            "recurrent_initializer": init_mod.serialize(self.recurrent_initializer),
            "bias_initializer": init_mod.serialize(self.bias_initializer),
            "kernel_regularizer": reg_mod.serialize(self.kernel_regularizer),
            "recurrent_regularizer": reg_mod.serialize(self.recurrent_regularizer),
            "bias_regularizer": reg_mod.serialize(self.bias_regularizer),
            "kernel_constraint": constraints_mod.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints_mod.serialize(self.recurrent_constraint),
            "bias_constraint": constraints_mod.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
            "zoneout": self.zoneout,
        }
        if self.kind != "rnn":
            config["recurrent_activation"] = _activation_name(self.recurrent_activation)
            config["layer_norm"] = self.layer_norm
        return config


def base_args(args: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A cell's own ``locals()`` as :class:`RecurrentCell` arguments: each cell spells out its
    Keras arguments in its signature and passes them on without a second copy of the list."""
    args = {k: v for k, v in args.items() if k not in ("self", "__class__", *drop)}
    extra = args.pop("kwargs", {})
    return {**args, **extra}
