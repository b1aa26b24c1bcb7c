"""Shared machinery of the built-in cells (SimpleRNNCell, LSTMCell, GRUCell; :class:`KerasCell`,
their arguments, kernels and dropout masks, also serves ConvLSTMCell).

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

from collections.abc import Mapping
from typing import Any, ClassVar

import torch

from rnnkit.core import activations
from rnnkit.core.cells import GATES, STEPS, CellParams, LayerNormParams, input_projection
from rnnkit.errors import ShapeError, invalid
from rnnkit.kernels.reference import zoneout_mix
from rnnkit.layers.base import Layer, Shape
from rnnkit.layers.core_layers import (
    _activation_name,
    check_last_dim,
    check_positive_int,
    check_rate,
    seeded_generator,
)
from rnnkit.layers.weight_args import add_role_weight, set_weight_args, weight_args_config

Tensor = torch.Tensor

CELL_ROLES = ("kernel", "recurrent", "bias")  # weight_ih, weight_hh and the bias


class KerasCell(Layer):
    """What every built-in cell shares, fully connected (:class:`RecurrentCell`) or convolutional
    (:class:`~rnnkit.layers.conv_lstm.ConvLSTMCell`): Keras's activation, bias, per-weight and
    dropout arguments, ``weight_ih`` / ``weight_hh``, and dropout masks drawn once per sequence
    and shared by every step (Gal & Ghahramani 2016, as Keras)."""

    def _set_cell_args(self, args: Mapping[str, Any]) -> None:
        """Check and store the arguments every cell takes, from the cell's own ``locals()``."""
        self.activation = activations.get(args["activation"])
        self.recurrent_activation = activations.get(
            args["recurrent_activation"], argument="recurrent_activation"
        )
        self.use_bias = bool(args["use_bias"])
        set_weight_args(self, CELL_ROLES, args)
        self.dropout = check_rate("dropout", args["dropout"])
        self.recurrent_dropout = check_rate("recurrent_dropout", args["recurrent_dropout"])
        self.seed = args["seed"]
        self._generator: torch.Generator | None = None
        self._step_masks: tuple[Tensor | None, Tensor | None] | None = None

    def _add_kernels(self, ih_shape: tuple[int, ...], hh_shape: tuple[int, ...]) -> None:
        add_role_weight(self, "weight_ih", ih_shape, "kernel")
        add_role_weight(self, "weight_hh", hh_shape, "recurrent")

    def _cell_config(self) -> dict[str, Any]:
        """The shared arguments as ``get_config`` saves them (the activation first, the seed last)."""
        return {
            "activation": _activation_name(self.activation),
            "use_bias": self.use_bias,
            **weight_args_config(self, CELL_ROLES),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }

    # ----------------------------------------------------------------- dropout
    def generator(self, device: torch.device) -> torch.Generator | None:
        """A generator seeded from ``seed`` (new masks each call, reproducible), or None."""
        return seeded_generator(self, device)

    def _mask(self, like: Tensor, rate: float) -> Tensor:
        keep = torch.rand(like.shape, device=like.device, generator=self.generator(like.device)) >= rate
        return keep.to(like.dtype) / (1.0 - rate)  # inverted dropout: E[mask] = 1

    def dropout_masks(self, x_t: Tensor, h_t: Tensor, training: bool) -> tuple[Tensor | None, Tensor | None]:
        """One input mask shaped like x_t and one recurrent mask shaped like h_t per call,
        reused at every step (Keras): (B, D) and (B, H), or ConvLSTM's (B, C, *S) and (B, F, *S')."""
        if not training:
            return None, None
        d = self._mask(x_t, self.dropout) if self.dropout else None
        r = self._mask(h_t, self.recurrent_dropout) if self.recurrent_dropout else None
        return d, r

    def step_dropout_masks(
        self, x_t: Tensor, h_t: Tensor, training: bool
    ) -> tuple[Tensor | None, Tensor | None]:
        """The masks of step-by-step use (Keras's cell API): drawn at the first training step,
        kept until :meth:`reset_dropout_mask`."""
        if not training:
            return None, None
        if self._step_masks is None:
            self._step_masks = self.dropout_masks(x_t, h_t, True)
        return self._step_masks

    def reset_dropout_mask(self) -> None:
        """Forget the cached masks of step-by-step use (Keras's cell API)."""
        self._step_masks = None

    reset_recurrent_dropout_mask = reset_dropout_mask


class RecurrentCell(KerasCell):
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
        self._set_cell_args(locals())
        self.zoneout = check_rate("zoneout", zoneout)
        self.layer_norm = bool(layer_norm)
        self.input_dim: int | None = None

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
        self._add_kernels((G, self.input_dim), (G, H))
        if self.use_bias:
            add_role_weight(self, "bias_ih", (G,), "bias")
            add_role_weight(self, "bias_hh", (G,), "bias", self._bias_hh_initializer())
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

    # ---------------------------------------------------------------- one step
    def call(self, inputs: Tensor, states: Any, training: bool = False) -> tuple[Tensor, list[Tensor]]:
        """One step from x_t (B, D) and the previous states; returns (h_t, new states)."""
        state = (states,) if isinstance(states, Tensor) else tuple(states)
        if len(state) != self.num_states:
            raise ShapeError(invalid("states", f"{len(state)} tensors", f"{self.num_states} tensors"))
        check_last_dim(self, inputs, self.input_dim)
        dmask, rmask = self.step_dropout_masks(inputs, state[0], training)
        if dmask is not None:
            inputs = inputs * dmask
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
            **self._cell_config(),
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
