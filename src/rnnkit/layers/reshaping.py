"""Shape-only layers with Keras 3's names and arguments: Flatten, Reshape, Permute, RepeatVector.

Shapes are batch first and the batch axis is never touched: ``Reshape((T, -1))`` maps
(B, ...) -> (B, T, rest); ``Permute((2, 1))`` swaps axes 1 and 2 (1-based, batch excluded,
as Keras); ``RepeatVector(n)`` maps (B, D) -> (B, n, D), the encoder summary fed to every
decoder step of a seq2seq model. None of them carries a mask on (as Keras).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from rnnkit.errors import ConfigError, ShapeError, invalid
from rnnkit.layers.base import Layer, Shape
from rnnkit.layers.conv import check_data_format
from rnnkit.layers.core_layers import check_positive_int

Tensor = torch.Tensor


class Flatten(Layer):
    """(B, d1, ..., dk) -> (B, d1 * ... * dk). ``data_format="channels_first"`` moves the channel
    axis last first, so a channels_first model flattens in the same order as its channels_last twin."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = check_data_format(data_format)

    def call(self, inputs: Tensor) -> Tensor:
        x = inputs
        if self.data_format == "channels_first" and x.dim() > 2:
            x = x.movedim(1, -1)  # (B, C, *S) -> (B, *S, C)
        return x.reshape(x.shape[0], -1)

    def compute_mask(self, inputs: Any, mask: Tensor | None = None) -> Tensor | None:
        return None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))  # type: ignore[arg-type]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """(B, ...) -> (B, *target_shape); one entry of ``target_shape`` may be -1 (inferred)."""

    def __init__(self, target_shape: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(target_shape, (tuple, list)) or not all(
            isinstance(d, int) and not isinstance(d, bool) and (d > 0 or d == -1) for d in target_shape
        ):
            raise ConfigError(invalid("target_shape", target_shape, "positive ints (one may be -1)"))
        if sum(d == -1 for d in target_shape) > 1:
            raise ConfigError(invalid("target_shape", target_shape, "at most one -1"))
        self.target_shape = tuple(target_shape)

    def call(self, inputs: Tensor) -> Tensor:
        size = math.prod(inputs.shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if (size % known) if -1 in self.target_shape else (size != known):
            raise ShapeError(
                f"{self.name}: inputs.shape={tuple(inputs.shape)} cannot be reshaped to "
                f"target_shape={self.target_shape}: {size} values per sample."
            )
        return inputs.reshape(inputs.shape[0], *self.target_shape)

    def compute_mask(self, inputs: Any, mask: Tensor | None = None) -> Tensor | None:
        return None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if -1 not in self.target_shape:
            return (input_shape[0], *self.target_shape)
        rest = input_shape[1:]
        known = math.prod(d for d in self.target_shape if d != -1)
        fill = None if None in rest else math.prod(rest) // known  # type: ignore[arg-type]
        return (input_shape[0], *(fill if d == -1 else d for d in self.target_shape))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(Layer):
    """Reorders the non-batch axes: ``dims`` permutes 1..k; output axis i is input axis dims[i-1]."""

    def __init__(self, dims: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(dims, (tuple, list)) or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ConfigError(invalid("dims", dims, "a permutation of 1..k (the batch axis 0 excluded)"))
        self.dims = tuple(int(d) for d in dims)

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.dim() != len(self.dims) + 1:
            raise ShapeError(
                f"{self.name}: inputs.shape={tuple(inputs.shape)} is not valid: "
                f"expected {len(self.dims) + 1} dimensions for dims={self.dims}."
            )
        return inputs.permute(0, *self.dims)

    def compute_mask(self, inputs: Any, mask: Tensor | None = None) -> Tensor | None:
        return None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """(B, D) -> (B, n, D): the same vector at each of n steps."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = check_positive_int("n", n)

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.dim() != 2:
            raise ShapeError(
                f"{self.name}: inputs.shape={tuple(inputs.shape)} is not valid: "
                "expected 2 dimensions (batch, features)."
            )
        return inputs.unsqueeze(1).repeat(1, self.n, 1)  # (B, D) -> (B, n, D)

    def compute_mask(self, inputs: Any, mask: Tensor | None = None) -> Tensor | None:
        return None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}
