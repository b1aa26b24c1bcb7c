"""ConvLSTM1D / ConvLSTM2D / ConvLSTM3D: Keras 3's convolutional LSTM layers on PyTorch.

An LSTM whose matrix products are convolutions (Shi et al. 2015; the equations are in
:mod:`rnnkit.core.conv_cells`), for sequences of signals, images or volumes: frames of video,
radar maps, sensor grids. torch.nn has no such layer.

Shapes (r = 1, 2, 3 spatial dims S; F = ``filters``): ``channels_last`` (Keras's default)
inputs are (B, T, *S, C) and outputs (B, T, *S', F) with ``return_sequences``, else
(B, *S', F); ``channels_first`` puts the channel axis right after T (inputs (B, T, C, *S)).
S' follows the input convolution's ``padding``, ``strides`` and ``dilation_rate``; the
recurrent convolution is always "same" with stride 1, so the states keep S'.

Keras's flags all work: ``return_sequences``, ``return_state`` (h, c), ``go_backwards``,
``stateful`` (states carried and detached), ``unroll`` (the reference loop), masks (B, T)
with any padding, ``initial_state=[h, c]``, ``dropout`` / ``recurrent_dropout`` (one mask
per sequence, Gal & Ghahramani 2016). After a call ``last_kernel`` (and
:func:`rnnkit.layers.kernel_report`) says which kernel ran and why (see
:mod:`rnnkit.kernels.conv_lstm`).

.. note:: ``dropout`` and ``recurrent_dropout`` draw one mask per sample, shared by the four gates
   and kept for the whole sequence, as rnnkit's LSTM; Keras's ConvLSTMCell draws one per gate, which
   costs four input convolutions per step instead of one.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from rnnkit.core import activations
from rnnkit.core import constraints as constraints_mod
from rnnkit.core import initializers as init_mod
from rnnkit.core import regularizers as reg_mod
from rnnkit.core.conv_cells import ConvLSTMParams, conv_lstm_input, conv_lstm_step, conv_output_length
from rnnkit.errors import ConfigError, ShapeError, invalid
from rnnkit.kernels import SequenceOptions, check_use_fused
from rnnkit.kernels.conv_lstm import run_conv_lstm
from rnnkit.layers.base import Layer, Shape
from rnnkit.layers.conv import check_data_format, check_padding, standardize_tuple
from rnnkit.layers.core_layers import _activation_name, check_positive_int, check_rate
from rnnkit.layers.recurrent import RNN

Tensor = torch.Tensor


class ConvLSTMCell(Layer):
    """One ConvLSTM step (Keras's cell contract): ``call(x_t, [h, c]) -> (h_t, [h_t, c_t])``.

    x_t is (B, *S, C) (channels_last) or (B, C, *S); h and c are (B, *S', F) or (B, F, *S').
    Weights: ``weight_ih (4F, C, *k)``, ``weight_hh (4F, F, *k)``, ``bias (4F,)``, gates i, f, g, o.
    """

    weight_ih: Tensor  # (4F, C, *k)
    weight_hh: Tensor  # (4F, F, *k)
    bias: Tensor | None  # (4F,)

    def __init__(
        self,
        rank: int,
        filters: int,
        kernel_size: int | tuple[int, ...],
        strides: int | tuple[int, ...] = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | tuple[int, ...] = 1,
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if rank not in (1, 2, 3):
            raise ConfigError(invalid("rank", rank, (1, 2, 3)))
        self.rank = rank
        self.filters = check_positive_int("filters", filters)
        self.kernel_size = standardize_tuple("kernel_size", kernel_size, rank)
        self.strides = standardize_tuple("strides", strides, rank)
        self.padding = check_padding(padding, ("valid", "same"))
        self.data_format = check_data_format(data_format)
        self.dilation_rate = standardize_tuple("dilation_rate", dilation_rate, rank)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation, argument="recurrent_activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = init_mod.get(kernel_initializer, argument="kernel_initializer")
        self.recurrent_initializer = init_mod.get(recurrent_initializer, argument="recurrent_initializer")
        self.bias_initializer = init_mod.get(bias_initializer, argument="bias_initializer")
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_regularizer = reg_mod.get(kernel_regularizer, argument="kernel_regularizer")
        self.recurrent_regularizer = reg_mod.get(recurrent_regularizer, argument="recurrent_regularizer")
        self.bias_regularizer = reg_mod.get(bias_regularizer, argument="bias_regularizer")
        self.kernel_constraint = constraints_mod.get(kernel_constraint, argument="kernel_constraint")
        self.recurrent_constraint = constraints_mod.get(recurrent_constraint, argument="recurrent_constraint")
        self.bias_constraint = constraints_mod.get(bias_constraint, argument="bias_constraint")
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self._generator: torch.Generator | None = None
        self._step_masks: tuple[Tensor | None, Tensor | None] | None = None
        self.input_dim: int | None = None
        self.spatial_dims: tuple[int, ...] | None = None

    @property
    def state_size(self) -> list[int]:
        return [self.filters, self.filters]

    def build(self, input_shape: Shape) -> None:
        """``input_shape``: one step, (B, *S, C) or (B, C, *S)."""
        if len(input_shape) != self.rank + 2:
            raise ShapeError(
                f"{self.name}: step input_shape={tuple(input_shape)} is not valid: "
                f"expected {self.rank + 2} dimensions."
            )
        last = self.data_format == "channels_last"
        channels = input_shape[-1] if last else input_shape[1]
        spatial = tuple(input_shape[1:-1] if last else input_shape[2:])
        if channels is None or None in spatial:
            raise ShapeError(
                f"{self.name}: input_shape={tuple(input_shape)} is not valid: ConvLSTM needs known "
                "channel and spatial sizes (as Keras)."
            )
        self.input_dim = int(channels)
        self.spatial_dims = tuple(int(s) for s in spatial)  # type: ignore[arg-type]
        F, k = self.filters, self.kernel_size
        self.add_weight(
            "weight_ih",
            (4 * F, self.input_dim, *k),
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.add_weight(
            "weight_hh",
            (4 * F, F, *k),
            self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            bias = self.add_weight(
                "bias",
                (4 * F,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
            if self.unit_forget_bias:  # Jozefowicz et al. 2015: the forget gate starts open
                with torch.no_grad():
                    bias[F : 2 * F] = 1.0
        else:
            self.register_parameter("bias", None)
        super().build(input_shape)

    def params(self) -> ConvLSTMParams:
        return ConvLSTMParams(
            self.weight_ih,
            self.weight_hh,
            self.bias,
            self.strides,
            self.padding,
            self.dilation_rate,
            self.activation,
            self.recurrent_activation,
        )

    def state_spatial(self) -> tuple[int, ...]:
        """S', the spatial dims of the states (and outputs)."""
        spatial = self.spatial_dims
        if spatial is None:
            raise ShapeError(f"{self.name}: the cell is not built yet.")
        return tuple(
            int(conv_output_length(n, k, self.padding, s, d))  # type: ignore[arg-type]
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate, strict=True)
        )

    # ------------------------------------------------------------- dropout
    def generator(self, device: torch.device) -> torch.Generator | None:
        if self.seed is None:
            return None
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device)
            self._generator.manual_seed(int(self.seed))
        return self._generator

    def _drop(self, like: Tensor, rate: float) -> Tensor:
        keep = torch.rand(like.shape, device=like.device, generator=self.generator(like.device)) >= rate
        return keep.to(like.dtype) / (1.0 - rate)  # inverted dropout: E[mask] = 1

    def dropout_masks(self, x_t: Tensor, h: Tensor, training: bool) -> tuple[Tensor | None, Tensor | None]:
        """An input mask like x_t (B, C, *S) and a recurrent one like h (B, F, *S'), channels first."""
        if not training:
            return None, None
        d = self._drop(x_t, self.dropout) if self.dropout else None
        r = self._drop(h, self.recurrent_dropout) if self.recurrent_dropout else None
        return d, r

    def reset_dropout_mask(self) -> None:
        """Forget the masks cached for step-by-step use (Keras's cell API)."""
        self._step_masks = None

    reset_recurrent_dropout_mask = reset_dropout_mask

    # ---------------------------------------------------------------- step
    def _cf(self, t: Tensor) -> Tensor:
        return t if self.data_format == "channels_first" else t.movedim(-1, 1)  # (B, *S, C) -> (B, C, *S)

    def _back(self, t: Tensor) -> Tensor:
        return t if self.data_format == "channels_first" else t.movedim(1, -1)

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> tuple[Tensor, list[Tensor]]:
        """One step from x_t and [h, c] (in ``data_format``) -> (h_t, [h_t, c_t])."""
        h, c = (self._cf(s) for s in states)
        x = self._cf(inputs)
        if training and self._step_masks is None:
            self._step_masks = self.dropout_masks(x, h, True)
        dmask, rmask = self._step_masks if training and self._step_masks else (None, None)
        p = self.params()
        xp = conv_lstm_input(x if dmask is None else x * dmask, p)
        h_new, c_new = conv_lstm_step(xp, (h, c), p, None if rmask is None else h * rmask)
        out = self._back(h_new)
        return out, [out, self._back(c_new)]

    def get_initial_state(self, batch_size: int) -> list[Tensor]:
        shape = (batch_size, self.filters, *self.state_spatial())
        w = self.weight_ih
        return [self._back(torch.zeros(shape, dtype=w.dtype, device=w.device)) for _ in range(2)]

    # -------------------------------------------------------------- Keras I/O
    def keras_weights(self) -> list[np.ndarray]:
        """``[kernel (*k, C, 4F), recurrent_kernel (*k, F, 4F), bias]`` as Keras's ``get_weights()``."""
        order = (*range(2, self.rank + 2), 1, 0)
        out = [self.weight_ih.detach().cpu().permute(order).numpy().copy()]
        out.append(self.weight_hh.detach().cpu().permute(order).numpy().copy())
        if self.bias is not None:
            out.append(self.bias.detach().cpu().numpy().copy())
        return out

    @torch.no_grad()
    def set_keras_weights(self, weights: list[Any]) -> None:
        """Load Keras's ``[kernel, recurrent_kernel, bias]`` into the built cell."""
        expected = 3 if self.use_bias else 2
        if len(weights) != expected:
            raise ShapeError(invalid("weights", f"{len(weights)} arrays", f"{expected} arrays"))
        r = self.rank
        order = (r + 1, r, *range(r))  # (*k, in, out) -> (out, in, *k)
        kernels = [torch.as_tensor(np.asarray(w)) for w in weights[:2]]
        for i, k in enumerate(kernels):
            if k.dim() != r + 2:
                raise ShapeError(invalid(f"weights[{i}]", tuple(k.shape), f"a kernel of {r + 2} dimensions"))
        self.set_weights([k.permute(order) for k in kernels] + list(weights[2:]))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": _activation_name(self.activation),
            "recurrent_activation": _activation_name(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": init_mod.serialize(self.kernel_initializer),
            "recurrent_initializer": init_mod.serialize(self.recurrent_initializer),
            "bias_initializer": init_mod.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_regularizer": reg_mod.serialize(self.kernel_regularizer),
            "recurrent_regularizer": reg_mod.serialize(self.recurrent_regularizer),
            "bias_regularizer": reg_mod.serialize(self.bias_regularizer),
            "kernel_constraint": constraints_mod.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints_mod.serialize(self.recurrent_constraint),
            "bias_constraint": constraints_mod.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "seed": self.seed,
        }


_CELL_ARGS = [
    "filters",
    "kernel_size",
    "strides",
    "padding",
    "data_format",
    "dilation_rate",
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "unit_forget_bias",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",
]


class ConvLSTM(RNN):
    """Base of ConvLSTM1D/2D/3D: an RNN around one :class:`ConvLSTMCell`, configured flat (as Keras)."""

    rank: ClassVar[int] = 0
    cell: ConvLSTMCell

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, ...],
        strides: int | tuple[int, ...] = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | tuple[int, ...] = 1,
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
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        use_fused: str | bool = "auto",
        **kwargs: Any,
    ) -> None:
        args = dict(locals())
        cell = ConvLSTMCell(
            self.rank, **{k: args[k] for k in _CELL_ARGS}, name=f"{type(self).__name__.lower()}_cell"
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            use_fused=check_use_fused(use_fused),
            activity_regularizer=activity_regularizer,
            **kwargs,
        )

    def __getattr__(self, name: str) -> Any:
        # Keras exposes the cell's settings on the layer: conv_lstm.filters, .padding ...
        try:
            return super().__getattr__(name)
        except AttributeError:
            cell = self.__dict__.get("_modules", {}).get("cell")
            if cell is not None and name in _CELL_ARGS:
                return getattr(cell, name)
            raise

    # ------------------------------------------------------------------ build
    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != self.rank + 3:
            raise ShapeError(
                f"{self.name}: input_shape={tuple(input_shape)} is not valid: expected {self.rank + 3} "
                "dimensions (batch, time, spatial dims and channels)."
            )
        if not self.cell.built:
            self.cell._factory = self._factory
            self.cell.build((input_shape[0], *input_shape[2:]))
            self.cell.built = True
        Layer.build(self, input_shape)

    # ------------------------------------------------------------------- call
    def call(
        self,
        inputs: Tensor,
        initial_state: Any = None,
        mask: Tensor | None = None,
        training: bool = False,
    ) -> Any:
        cell = self.cell
        if not isinstance(inputs, Tensor):
            inputs = torch.as_tensor(inputs, dtype=torch.get_default_dtype())
        expected = (cell.input_dim, *cell.spatial_dims)  # type: ignore[misc]
        last = cell.data_format == "channels_last"
        got = (inputs.shape[-1], *inputs.shape[2:-1]) if last else tuple(inputs.shape[2:])
        if inputs.dim() != self.rank + 3 or tuple(got) != expected or inputs.shape[1] == 0:
            raise ShapeError(
                f"{self.name}: inputs.shape={tuple(inputs.shape)} is not valid: expected (batch, time >= 1) "
                f"and (channels, *spatial) = {expected} in {cell.data_format} order."
            )
        x = inputs.movedim(-1, 2) if last else inputs  # (B, T, *S, C) -> (B, T, C, *S)
        B, T = x.shape[:2]
        mask = self._check_mask(mask, B, T, x.device)
        state0 = self._conv_states(initial_state, B, x)
        dmask, rmask = cell.dropout_masks(x[:, 0], state0[0], training)
        opts = SequenceOptions(
            mask=mask,
            go_backwards=self.go_backwards,
            zero_output_for_mask=self.zero_output_for_mask,
            return_sequences=self.return_sequences,
            training=training,
            input_dropout_mask=dmask,
            recurrent_dropout_mask=rmask,
            generator=cell.generator(x.device),
            need_states=self.return_state or self.stateful,
        )
        result, self.last_kernel = run_conv_lstm(
            cell.params(), x, state0, opts, use_fused=self.use_fused, unroll=self.unroll
        )
        if self.stateful:
            self.states = [s.detach() for s in result.states]  # truncated BPTT: no gradient into the past
        if result.outputs is not None:  # return_sequences
            output = (
                result.outputs.movedim(2, -1) if last else result.outputs
            )  # (B, T, F, *S') -> (B, T, *S', F)
        else:
            output = cell._back(result.last_output)
        if self.return_state:
            return (output, *(cell._back(s) for s in result.states))
        return output

    def _conv_states(self, initial_state: Any, B: int, x: Tensor) -> tuple[Tensor, Tensor]:
        """(h0, c0), channels first (B, F, *S'): given, carried (stateful) or zeros."""
        cell = self.cell
        shape = (B, cell.filters, *cell.state_spatial())
        if initial_state is None:
            if self.stateful and self.states is not None:
                if self.states[0].shape[0] != B:
                    raise ShapeError(
                        f"{self.name}: inputs batch size {B} is not valid for a stateful layer: expected "
                        f"{self.states[0].shape[0]} (call reset_states(batch_size=None) to change it)."
                    )
                return self.states[0], self.states[1]
            zeros = x.new_zeros(shape)
            return zeros, zeros
        states = [initial_state] if isinstance(initial_state, Tensor) else list(initial_state)
        if len(states) != 2:
            raise ShapeError(f"{self.name}: initial_state has {len(states)} tensors: expected 2 ([h, c]).")
        out = []
        for i, s in enumerate(states):
            s = cell._cf(torch.as_tensor(s, dtype=x.dtype, device=x.device))
            if tuple(s.shape) != shape:
                want = shape if cell.data_format == "channels_first" else (B, *shape[2:], shape[1])
                raise ShapeError(
                    f"{self.name}: initial_state[{i}].shape={tuple(cell._back(s).shape)} is not valid: "
                    f"expected {want}."
                )
            out.append(s)
        return out[0], out[1]

    # ---------------------------------------------------------------- shapes
    def compute_output_shape(self, input_shape: Shape) -> Any:
        cell = self.cell
        last = cell.data_format == "channels_last"
        spatial = input_shape[2:-1] if last else input_shape[3:]
        out = tuple(
            conv_output_length(n, k, cell.padding, s, d)
            for n, k, s, d in zip(spatial, cell.kernel_size, cell.strides, cell.dilation_rate, strict=True)
        )
        step = (*out, cell.filters) if last else (cell.filters, *out)
        B, T = input_shape[0], input_shape[1]
        output = (B, T, *step) if self.return_sequences else (B, *step)
        if self.return_state:
            return (output, (B, *step), (B, *step))
        return output

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        cell_config = self.cell.get_config()
        cell_config.pop("name", None)
        cell_config.pop("trainable", None)
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ConvLSTM:
        return cls(**config)

    def keras_weights(self) -> list[np.ndarray]:
        return self.cell.keras_weights()

    def set_keras_weights(self, weights: list[Any]) -> None:
        self.cell.set_keras_weights(weights)


class ConvLSTM1D(ConvLSTM):
    """ConvLSTM over sequences of 1-D signals: (B, T, steps, C) -> (B, [T,] steps', filters)."""

    rank = 1


class ConvLSTM2D(ConvLSTM):
    """ConvLSTM over sequences of images: (B, T, rows, cols, C) -> (B, [T,] rows', cols', filters)."""

    rank = 2


class ConvLSTM3D(ConvLSTM):
    """ConvLSTM over sequences of volumes: (B, T, d1, d2, d3, C) -> (B, [T,] d1', d2', d3', filters)."""

    rank = 3
