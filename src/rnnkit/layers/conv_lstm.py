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

from rnnkit.core.conv_cells import ConvLSTMParams, conv_lstm_input, conv_lstm_step
from rnnkit.errors import ConfigError, ShapeError, invalid
from rnnkit.kernels import SequenceOptions
from rnnkit.kernels.conv_lstm import run_conv_lstm
from rnnkit.layers.base import Layer, Shape
from rnnkit.layers.cell import KerasCell
from rnnkit.layers.conv import (
    ConvGeometry,
    from_channels_first,
    keras_conv_weights,
    set_keras_conv_weights,
    to_channels_first,
)
from rnnkit.layers.core_layers import _activation_name
from rnnkit.layers.recurrent import FlatRNN
from rnnkit.layers.weight_args import add_role_weight

Tensor = torch.Tensor


class ConvLSTMCell(ConvGeometry, KerasCell):
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
        self._set_geometry(filters, kernel_size, strides, padding, data_format, dilation_rate)
        self._set_cell_args(locals())
        self.unit_forget_bias = bool(unit_forget_bias)
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
        self._add_kernels((4 * F, self.input_dim, *k), (4 * F, F, *k))
        if self.use_bias:
            bias = add_role_weight(self, "bias", (4 * F,), "bias")
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
        return tuple(int(n) for n in self.output_spatial(spatial))

    # ---------------------------------------------------------------- step
    # Dropout masks (KerasCell.dropout_masks) are channels first: like x_t (B, C, *S) and h (B, F, *S').
    def _cf(self, t: Tensor) -> Tensor:
        return to_channels_first(t, self.data_format)  # (B, *S, C) -> (B, C, *S)

    def _back(self, t: Tensor) -> Tensor:
        return from_channels_first(t, self.data_format)  # (B, C, *S) -> (B, *S, C)

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> tuple[Tensor, list[Tensor]]:
        """One step from x_t and [h, c] (in ``data_format``) -> (h_t, [h_t, c_t])."""
        h, c = (self._cf(s) for s in states)
        x = self._cf(inputs)
        dmask, rmask = self.step_dropout_masks(x, h, training)
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
        return keras_conv_weights([self.weight_ih, self.weight_hh], self.bias)

    def set_keras_weights(self, weights: list[Any]) -> None:
        """Load Keras's ``[kernel, recurrent_kernel, bias]`` into the built cell."""
        set_keras_conv_weights(self, weights, 2, self.rank)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            **self.geometry_config(),
            **self._cell_config(),
            "recurrent_activation": _activation_name(self.recurrent_activation),
            "unit_forget_bias": self.unit_forget_bias,
        }


class ConvLSTM(FlatRNN):
    """Base of ConvLSTM1D/2D/3D: an RNN around one :class:`ConvLSTMCell`, configured flat (as Keras)."""

    rank: ClassVar[int] = 0
    cell: ConvLSTMCell
    cell_class = ConvLSTMCell  # its arguments read on the layer, as Keras: conv_lstm.filters, .padding ...

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
        self._init_from_args(locals())

    def _make_cell(self, cell_args: dict[str, Any]) -> ConvLSTMCell:
        return ConvLSTMCell(self.rank, **cell_args, name=f"{type(self).__name__.lower()}_cell")

    # ------------------------------------------------------------------ build
    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != self.rank + 3:
            raise ShapeError(
                f"{self.name}: input_shape={tuple(input_shape)} is not valid: expected {self.rank + 3} "
                "dimensions (batch, time, spatial dims and channels)."
            )
        self.build_sublayer(self.cell, (input_shape[0], *input_shape[2:]))
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
                self._check_carried_batch(B)
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
        B, T = input_shape[0], input_shape[1]
        step = self.cell.conv_output_shape((B, *input_shape[2:]))[1:]  # (*S', F) or (F, *S')
        output = (B, T, *step) if self.return_sequences else (B, *step)
        if self.return_state:
            return (output, (B, *step), (B, *step))
        return output

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
