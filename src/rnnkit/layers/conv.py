"""Convolutions with Keras 3's names, arguments and numerics: ``Conv1D`` and ``Conv2D``.

Shapes: B batch, C_in / C_out channels (``filters``), r the rank (1 or 2), S the
spatial dims (``steps`` for 1-D, ``rows, cols`` for 2-D). ``data_format="channels_last"``
(Keras's default) reads (B, *S, C_in); ``"channels_first"`` reads (B, C_in, *S).
Weights follow ``torch.nn.Conv1d/2d``: ``weight (C_out, C_in / groups, *kernel_size)`` and
``bias (C_out,)``; Keras's ``kernel (*kernel_size, C_in / groups, C_out)`` is its transpose
(:meth:`_Conv.keras_weights` / :meth:`_Conv.set_keras_weights` convert)::

    y[b, o, s] = act(bias[o] + sum_{c, k} weight[o, c, k] * x_pad[b, c_g(o) + c, s * stride + k * dilation])

with c_g(o) the first input channel of output channel o's group.

Padding, as Keras (and TensorFlow) define it, per spatial dim with k_eff = (k - 1) * dilation + 1:

- ``valid``: none; out = floor((in - k_eff) / stride) + 1.
- ``same``: out = ceil(in / stride); total = max((out - 1) * stride + k_eff - in, 0) split as
  total // 2 before and the rest after (the odd pixel goes at the end).
- ``causal`` (1-D only): k_eff - 1 zeros before the sequence, so step t sees steps <= t (WaveNet).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rnnkit.core import activations
from rnnkit.core.conv_cells import conv, conv_output_length
from rnnkit.errors import ConfigError, ShapeError, invalid
from rnnkit.layers.base import Layer, Shape
from rnnkit.layers.core_layers import _activation_name, check_positive_int
from rnnkit.layers.weight_args import (
    KERNEL_BIAS_ROLES,
    add_kernel_and_bias,
    set_weight_args,
    weight_args_config,
)

Tensor = torch.Tensor

DATA_FORMATS = ("channels_last", "channels_first")


# ------------------------------------------------------------ shared helpers
def standardize_tuple(name: str, value: Any, rank: int) -> tuple[int, ...]:
    """An int or a sequence of ``rank`` positive ints -> a tuple of ``rank`` ints (Keras's rule)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * rank
    if not isinstance(value, (tuple, list)) or len(value) != rank:
        raise ConfigError(invalid(name, value, f"an int or a tuple of {rank} ints"))
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ConfigError(invalid(name, value, f"positive ints (an int or a tuple of {rank})"))
    return tuple(int(v) for v in value)


def check_data_format(value: Any) -> str:
    if value is None:
        return "channels_last"
    if value not in DATA_FORMATS:
        raise ConfigError(invalid("data_format", value, DATA_FORMATS))
    return str(value)


def check_padding(value: Any, allowed: tuple[str, ...]) -> str:
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        raise ConfigError(invalid("padding", value, allowed))
    return str(padding)


def to_channels_first(x: Tensor, data_format: str) -> Tensor:
    """(B, *S, C) -> (B, C, *S) for channels_last; channels_first passes through."""
    if data_format == "channels_first":
        return x
    return x.movedim(-1, 1)


def from_channels_first(y: Tensor, data_format: str) -> Tensor:
    """(B, C, *S) -> (B, *S, C) for channels_last."""
    if data_format == "channels_first":
        return y
    return y.movedim(1, -1)


def keras_conv_weights(kernels: list[Tensor], bias: Tensor | None) -> list[np.ndarray]:
    """Kernels (C_out, C_in, *k) and a bias as Keras's ``get_weights()``: kernels (*k, C_in, C_out)."""
    out = []
    for w in kernels:
        r = w.dim() - 2
        out.append(w.detach().cpu().permute(*range(2, r + 2), 1, 0).numpy().copy())
    return out + ([bias.detach().cpu().numpy().copy()] if bias is not None else [])


@torch.no_grad()
def set_keras_conv_weights(layer: Layer, weights: list[Any], n_kernels: int, rank: int) -> None:
    """Load Keras's ``[*kernels, bias]`` (``bias`` only with ``layer.use_bias``) into the built layer,
    each kernel (*k, C_in, C_out) transposed to torch's (C_out, C_in, *k)."""
    expected = n_kernels + 1 if layer.use_bias else n_kernels
    if len(weights) != expected:
        raise ShapeError(invalid("weights", f"{len(weights)} arrays", f"{expected} arrays"))
    kernels = [torch.as_tensor(np.asarray(w)) for w in weights[:n_kernels]]
    for i, k in enumerate(kernels):
        if k.dim() != rank + 2:
            raise ShapeError(invalid(f"weights[{i}]", tuple(k.shape), f"a kernel of {rank + 2} dimensions"))
    order = (rank + 1, rank, *range(rank))  # (*k, in, out) -> (out, in, *k)
    layer.set_weights([k.permute(order) for k in kernels] + list(weights[n_kernels:]))


class ConvGeometry:
    """Keras's convolution arguments, checked once for the convolutions and ConvLSTM's cell:
    ``filters`` (F), ``kernel_size``, ``strides``, ``padding``, ``data_format``, ``dilation_rate``
    for r = ``rank`` spatial dims."""

    rank: int
    filters: int
    kernel_size: tuple[int, ...]
    strides: tuple[int, ...]
    padding: str
    data_format: str
    dilation_rate: tuple[int, ...]

    def _set_geometry(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any,
        padding: str,
        data_format: str | None,
        dilation_rate: Any,
        paddings: tuple[str, ...] = ("valid", "same"),
    ) -> None:
        r = self.rank
        self.filters = check_positive_int("filters", filters)
        self.kernel_size = standardize_tuple("kernel_size", kernel_size, r)
        self.strides = standardize_tuple("strides", strides, r)
        self.padding = check_padding(padding, paddings)
        self.data_format = check_data_format(data_format)
        self.dilation_rate = standardize_tuple("dilation_rate", dilation_rate, r)

    def output_spatial(self, spatial: Shape) -> tuple[Any, ...]:
        """S' of the output for input spatial dims S (None stays None)."""
        return tuple(
            conv_output_length(n, k, self.padding, s, d)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate, strict=True)
        )

    def conv_output_shape(self, input_shape: Shape) -> Shape:
        """(B, *S, C) -> (B, *S', F) for channels_last; (B, C, *S) -> (B, F, *S') for channels_first."""
        if self.data_format == "channels_last":
            return (input_shape[0], *self.output_spatial(input_shape[1:-1]), self.filters)
        return (input_shape[0], self.filters, *self.output_spatial(input_shape[2:]))

    def geometry_config(self) -> dict[str, Any]:
        return {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
        }


# --------------------------------------------------------------------- layers
class _Conv(ConvGeometry, Layer):
    """Keras's ``BaseConv``: an r-D convolution (r = 1, 2) with Keras's arguments."""

    weight: Tensor  # (C_out, C_in / groups, *kernel_size)
    bias: Tensor | None  # (C_out,)

    rank: int = 0

    def __init__(
        self,
        filters: int,
        kernel_size: int | tuple[int, ...],
        strides: int | tuple[int, ...] = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | tuple[int, ...] = 1,
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        paddings = ("valid", "same", "causal") if self.rank == 1 else ("valid", "same")
        self._set_geometry(filters, kernel_size, strides, padding, data_format, dilation_rate, paddings)
        self.groups = check_positive_int("groups", groups)
        if self.filters % self.groups:
            raise ConfigError(invalid("groups", groups, f"a divisor of filters={self.filters}"))
        # Keras: strides > 1 and dilation_rate > 1 together are not supported.
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ConfigError(
                invalid("dilation_rate", dilation_rate, f"1 when strides={self.strides} (one must be 1)")
            )
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        set_weight_args(self, KERNEL_BIAS_ROLES, locals())
        self.in_channels: int | None = None

    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != self.rank + 2:
            raise ShapeError(
                f"{self.name}: input_shape={tuple(input_shape)} is not valid: expected {self.rank + 2} "
                f"dimensions (batch, {'steps' if self.rank == 1 else 'rows, cols'} and channels)."
            )
        channels = input_shape[self._channel_axis()]
        if channels is None:
            raise ShapeError(invalid("input_shape", tuple(input_shape), "a known channel dimension"))
        if channels % self.groups:
            raise ConfigError(invalid("groups", self.groups, f"a divisor of the input channels {channels}"))
        self.in_channels = int(channels)
        shape = (self.filters, self.in_channels // self.groups, *self.kernel_size)
        add_kernel_and_bias(self, shape, self.filters)
        super().build(input_shape)

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.dim() != self.rank + 2:
            raise ShapeError(
                f"{self.name}: inputs.shape={tuple(inputs.shape)} is not valid: "
                f"expected {self.rank + 2} dimensions."
            )
        channels = inputs.shape[self._channel_axis()]
        if channels != self.in_channels:
            raise ShapeError(
                f"{self.name}: the input has {channels} channels: expected {self.in_channels} "
                f"(data_format={self.data_format!r})."
            )
        x = to_channels_first(inputs, self.data_format)  # (B, C_in, *S)
        y = conv(x, self.weight, self.bias, self.strides, self.padding, self.dilation_rate, self.groups)
        return from_channels_first(self.activation(y), self.data_format)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self.conv_output_shape(input_shape)

    # Keras layout: kernel (*kernel_size, C_in / groups, C_out) = weight.permute(2, ..., r + 1, 1, 0).
    def keras_weights(self) -> list[np.ndarray]:
        """``[kernel, bias]`` as Keras's ``get_weights()`` returns them."""
        return keras_conv_weights([self.weight], self.bias)

    def set_keras_weights(self, weights: list[Any]) -> None:
        """Load Keras's ``[kernel, bias]`` (as ``get_weights()`` gives them) into the built layer."""
        set_keras_conv_weights(self, weights, 1, self.rank)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            **self.geometry_config(),
            "groups": self.groups,
            "activation": _activation_name(self.activation),
            "use_bias": self.use_bias,
            **weight_args_config(self, KERNEL_BIAS_ROLES),
        }


class Conv1D(_Conv):
    """1-D convolution over (B, steps, C_in) (channels_last) -> (B, steps', filters).

    ``padding="causal"`` makes step t depend on steps <= t only (WaveNet, van den Oord et al. 2016).
    """

    rank = 1


class Conv2D(_Conv):
    """2-D convolution over (B, rows, cols, C_in) (channels_last) -> (B, rows', cols', filters)."""

    rank = 2
