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
from rnnkit.core import constraints as constraints_mod
from rnnkit.core import initializers as init_mod
from rnnkit.core import regularizers as reg_mod
from rnnkit.core.conv_cells import conv, conv_output_length
from rnnkit.errors import ConfigError, ShapeError, invalid
from rnnkit.layers.base import Layer, Shape
from rnnkit.layers.core_layers import _activation_name, check_positive_int

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


# --------------------------------------------------------------------- layers
class _Conv(Layer):
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
        r = self.rank
        self.filters = check_positive_int("filters", filters)
        self.kernel_size = standardize_tuple("kernel_size", kernel_size, r)
        self.strides = standardize_tuple("strides", strides, r)
        self.padding = check_padding(padding, ("valid", "same", "causal") if r == 1 else ("valid", "same"))
        self.data_format = check_data_format(data_format)
        self.dilation_rate = standardize_tuple("dilation_rate", dilation_rate, r)
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
        self.kernel_initializer = init_mod.get(kernel_initializer, argument="kernel_initializer")
        self.bias_initializer = init_mod.get(bias_initializer, argument="bias_initializer")
        self.kernel_regularizer = reg_mod.get(kernel_regularizer, argument="kernel_regularizer")
        self.bias_regularizer = reg_mod.get(bias_regularizer, argument="bias_regularizer")
        self.kernel_constraint = constraints_mod.get(kernel_constraint, argument="kernel_constraint")
        self.bias_constraint = constraints_mod.get(bias_constraint, argument="bias_constraint")
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
        self.add_weight(
            "weight",
            shape,
            self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.add_weight(
                "bias",
                (self.filters,),
                self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.register_parameter("bias", None)
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
        if self.data_format == "channels_last":
            spatial = input_shape[1:-1]
        else:
            spatial = input_shape[2:]
        out = tuple(
            conv_output_length(n, k, self.padding, s, d)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate, strict=True)
        )
        if self.data_format == "channels_last":
            return (input_shape[0], *out, self.filters)
        return (input_shape[0], self.filters, *out)

    # Keras layout: kernel (*kernel_size, C_in / groups, C_out) = weight.permute(2, ..., r + 1, 1, 0).
    def keras_weights(self) -> list[np.ndarray]:
        """``[kernel, bias]`` as Keras's ``get_weights()`` returns them."""
        r = self.rank
        kernel = self.weight.detach().cpu().permute(*range(2, r + 2), 1, 0).numpy().copy()
        return [kernel] + ([self.bias.detach().cpu().numpy().copy()] if self.bias is not None else [])

    @torch.no_grad()
    def set_keras_weights(self, weights: list[Any]) -> None:
        """Load Keras's ``[kernel, bias]`` (as ``get_weights()`` gives them) into the built layer."""
        r = self.rank
        expected = 2 if self.use_bias else 1
        if len(weights) != expected:
            raise ShapeError(invalid("weights", f"{len(weights)} arrays", f"{expected} arrays"))
        kernel = torch.as_tensor(np.asarray(weights[0]))
        if kernel.dim() != r + 2:
            raise ShapeError(invalid("weights[0]", tuple(kernel.shape), f"a kernel of {r + 2} dimensions"))
        self.set_weights([kernel.permute(r + 1, r, *range(r)), *weights[1:]])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "groups": self.groups,
            "activation": _activation_name(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": init_mod.serialize(self.kernel_initializer),
            "bias_initializer": init_mod.serialize(self.bias_initializer),
            "kernel_regularizer": reg_mod.serialize(self.kernel_regularizer),
            "bias_regularizer": reg_mod.serialize(self.bias_regularizer),
            "kernel_constraint": constraints_mod.serialize(self.kernel_constraint),
            "bias_constraint": constraints_mod.serialize(self.bias_constraint),
        }


class Conv1D(_Conv):
    """1-D convolution over (B, steps, C_in) (channels_last) -> (B, steps', filters).

    ``padding="causal"`` makes step t depend on steps <= t only (WaveNet, van den Oord et al. 2016).
    """

    rank = 1


class Conv2D(_Conv):
    """2-D convolution over (B, rows, cols, C_in) (channels_last) -> (B, rows', cols', filters)."""

    rank = 2
