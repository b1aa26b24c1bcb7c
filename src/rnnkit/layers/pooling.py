"""Pooling with Keras 3's names, arguments and numerics: MaxPooling1D/2D, AveragePooling1D/2D,
GlobalAveragePooling1D/2D and GlobalMaxPooling1D/2D.

Shapes: B batch, C channels, S the spatial dims (steps; or rows, cols); ``channels_last``
(Keras's default) is (B, *S, C), ``channels_first`` (B, C, *S). ``strides`` default to
``pool_size``. Output size per spatial dim: ``valid`` floor((n - p) / s) + 1, ``same`` ceil(n / s),
with "same" padding split as in :mod:`rnnkit.layers.conv` (the odd element goes at the end).

.. note:: Padded positions never count: max pooling pads with -inf, and average pooling divides
   by the number of real elements in each window (TensorFlow's and JAX's Keras backends). Keras's
   torch backend instead pads *asymmetric* "same" windows by repeating the edge value, which
   then counts twice in the average; rnnkit follows the other backends there.

Masks: the windowed pooling layers drop them (as Keras); ``GlobalAveragePooling1D`` averages
over the unmasked steps only (as Keras), and rnnkit's ``GlobalMaxPooling1D`` also skips masked
steps (Keras's ignores the mask: a padded step can win the max there).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from rnnkit.core.conv_cells import conv_output_length, flat_pad, pad_amounts
from rnnkit.errors import ConfigError, ShapeError, invalid
from rnnkit.layers import core_layers
from rnnkit.layers.base import Layer, Shape
from rnnkit.layers.conv import (
    check_data_format,
    check_padding,
    from_channels_first,
    standardize_tuple,
    to_channels_first,
)

Tensor = torch.Tensor

_MAX_FNS = {1: F.max_pool1d, 2: F.max_pool2d}
_AVG_FNS = {1: F.avg_pool1d, 2: F.avg_pool2d}


class _Pooling(Layer):
    """Keras's ``BasePooling``: a window of ``pool_size`` moved by ``strides`` over r spatial dims."""

    rank: int = 0
    mode: str = "max"

    def __init__(
        self,
        pool_size: int | tuple[int, ...],
        strides: int | tuple[int, ...] | None = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pool_size = standardize_tuple("pool_size", pool_size, self.rank)
        self.strides = self.pool_size if strides is None else standardize_tuple("strides", strides, self.rank)
        self.padding = check_padding(padding, ("valid", "same"))
        self.data_format = check_data_format(data_format)

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.dim() != self.rank + 2:
            raise ShapeError(
                f"{self.name}: inputs.shape={tuple(inputs.shape)} is not valid: "
                f"expected {self.rank + 2} dimensions."
            )
        x = to_channels_first(inputs, self.data_format)  # (B, C, *S)
        ones = (1,) * self.rank
        pads = pad_amounts(tuple(x.shape[2:]), self.padding, self.pool_size, self.strides, ones)
        padded = any(p != (0, 0) for p in pads)
        if self.mode == "max":
            if padded:  # -inf never wins a max
                x = F.pad(x, flat_pad(pads), value=float("-inf"))
            y = _MAX_FNS[self.rank](x, self.pool_size, self.strides)
        elif not padded:
            y = _AVG_FNS[self.rank](x, self.pool_size, self.strides)
        else:
            # sum of the real elements / their number: pad with zeros, count with a padded ones map.
            total = _AVG_FNS[self.rank](F.pad(x, flat_pad(pads)), self.pool_size, self.strides)
            ones_map = F.pad(torch.ones_like(x[:1, :1]), flat_pad(pads))  # (1, 1, *S_padded)
            count = _AVG_FNS[self.rank](ones_map, self.pool_size, self.strides)
            y = total / count
        return from_channels_first(y, self.data_format)

    def compute_mask(self, inputs: Any, mask: Tensor | None = None) -> Tensor | None:
        return None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        last = self.data_format == "channels_last"
        spatial = input_shape[1:-1] if last else input_shape[2:]
        out = tuple(
            conv_output_length(n, p, self.padding, s)
            for n, p, s in zip(spatial, self.pool_size, self.strides, strict=True)
        )
        channels = input_shape[-1] if last else input_shape[1]
        return (input_shape[0], *out, channels) if last else (input_shape[0], channels, *out)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "padding": self.padding,
            "strides": self.strides,
            "data_format": self.data_format,
        }


class MaxPooling1D(_Pooling):
    """Max over windows of ``pool_size`` steps: (B, steps, C) -> (B, steps', C)."""

    rank, mode = 1, "max"

    def __init__(
        self,
        pool_size: int | tuple[int] = 2,
        strides: int | tuple[int] | None = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling2D(_Pooling):
    """Max over ``pool_size`` windows: (B, rows, cols, C) -> (B, rows', cols', C)."""

    rank, mode = 2, "max"

    def __init__(
        self,
        pool_size: int | tuple[int, int] = (2, 2),
        strides: int | tuple[int, int] | None = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pooling):
    """Mean over windows of ``pool_size`` steps (padding excluded): (B, steps, C) -> (B, steps', C)."""

    rank, mode = 1, "average"


class AveragePooling2D(_Pooling):
    """Mean over ``pool_size`` windows (padding excluded): (B, rows, cols, C) -> (B, rows', cols', C)."""

    rank, mode = 2, "average"


# ------------------------------------------------------------------- global
def _check_keepdims(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(invalid("keepdims", value, "True or False"))
    return value


class _GlobalArgs(Layer):
    """``data_format`` and ``keepdims``, Keras's arguments of every global pooling layer."""

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format)
        self.keepdims = _check_keepdims(keepdims)

    def _spatial_axes(self, rank: int) -> tuple[int, ...]:
        start = 1 if self.data_format == "channels_last" else 2
        return tuple(range(start, start + rank))

    def _global_shape(self, input_shape: Shape, rank: int) -> Shape:
        axes = self._spatial_axes(rank)
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class _Global1D(_GlobalArgs):
    """Keras's 1-D global pooling: ``data_format`` and ``keepdims`` around the masked pooling over
    time of :mod:`rnnkit.layers.core_layers` (the next class in the MRO)."""

    def call(self, inputs: Tensor, mask: Tensor | None = None) -> Tensor:
        x = inputs if self.data_format == "channels_last" else inputs.transpose(1, 2)  # -> (B, T, C)
        y = super().call(x, mask=mask)  # (B, C)
        return y.unsqueeze(self._spatial_axes(1)[0]) if self.keepdims else y

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._global_shape(input_shape, 1)


class GlobalAveragePooling1D(_Global1D, core_layers.GlobalAveragePooling1D):
    """Mean over steps, masked steps excluded: (B, steps, C) -> (B, C) (or (B, 1, C) with keepdims)."""


class GlobalMaxPooling1D(_Global1D, core_layers.GlobalMaxPooling1D):
    """Max over steps (masked steps skipped): (B, steps, C) -> (B, C) (or (B, 1, C) with keepdims)."""


class _GlobalPooling2D(_GlobalArgs):
    reduce: str = "mean"

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.dim() != 4:
            raise ShapeError(
                f"{self.name}: inputs.shape={tuple(inputs.shape)} is not valid: expected 4 dimensions."
            )
        axes = self._spatial_axes(2)
        if self.reduce == "mean":
            return inputs.mean(dim=axes, keepdim=self.keepdims)
        return inputs.amax(dim=axes, keepdim=self.keepdims)

    def compute_mask(self, inputs: Any, mask: Tensor | None = None) -> Tensor | None:
        return None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self._global_shape(input_shape, 2)


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over rows and cols: (B, rows, cols, C) -> (B, C) (or (B, 1, 1, C) with keepdims)."""

    reduce = "mean"


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Max over rows and cols: (B, rows, cols, C) -> (B, C) (or (B, 1, 1, C) with keepdims)."""

    reduce = "max"
