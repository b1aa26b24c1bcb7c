"""Merge layers with Keras 3's names and semantics: Concatenate, Add, Subtract, Multiply,
Average, Maximum, Minimum. Each is called on a list of tensors.

Element-wise merges take inputs of one shape, or of shapes that broadcast once the lower-rank
ones are expanded at axis 1 (Keras's rule: a (B, D) input against (B, T, D) acts per step).
``Concatenate(axis=-1)`` joins along ``axis``.

Masks (Keras's rules; a tensor's mask travels on it as ``_keras_mask`` or comes as ``mask=[...]``):

- element-wise: None if any input has none, else the OR of the input masks;
- Concatenate: each input's mask broadcast over its features (all True where an input has
  none), concatenated along ``axis`` and reduced with ``any`` over the last axis -- the OR of
  the masks when joining features, the masks joined end to end when joining time steps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

from rnnkit.errors import ConfigError, ShapeError, invalid
from rnnkit.layers.base import Layer, Shape, get_mask

Tensor = torch.Tensor


class _Merge(Layer):
    """Base: validates the list of inputs, gathers their masks, broadcasts ranks as Keras."""

    supports_masking = True
    min_inputs = 1
    max_inputs: int | None = None

    def forward(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        # A list has no _keras_mask of its own: gather each input's, so masks flow as in Keras.
        if kwargs.get("mask") is None and isinstance(inputs, (list, tuple)):
            masks = [get_mask(x) for x in inputs]
            kwargs["mask"] = None if all(m is None for m in masks) else masks
        return super().forward(inputs, *args, **kwargs)

    def _check(self, inputs: Any) -> list[Tensor]:
        if not isinstance(inputs, (list, tuple)) or not all(isinstance(x, Tensor) for x in inputs):
            raise ShapeError(invalid("inputs", type(inputs).__name__, "a list of tensors"))
        n = len(inputs)
        if n < self.min_inputs or (self.max_inputs is not None and n > self.max_inputs):
            allowed = (
                f"exactly {self.max_inputs}"
                if self.max_inputs == self.min_inputs
                else f"at least {self.min_inputs}"
            )
            raise ShapeError(f"{self.name}: called on {n} inputs: expected {allowed}.")
        return list(inputs)

    def build(self, input_shape: Any) -> None:
        if not isinstance(input_shape, list) or not all(isinstance(s, (tuple, list)) for s in input_shape):
            raise ShapeError(invalid("input_shape", input_shape, "a list of shapes (one per input)"))
        super().build(input_shape)  # type: ignore[arg-type]  # a merge layer's shape is a list of shapes

    def compute_mask(self, inputs: Any, mask: Any = None) -> Tensor | None:
        if mask is None or not isinstance(mask, (list, tuple)) or any(m is None for m in mask):
            return None
        return functools.reduce(torch.logical_or, [m.bool() for m in mask])


class _ElementwiseMerge(_Merge):
    op: Callable[[list[Tensor]], Tensor]
    min_inputs = 2

    def call(self, inputs: Any) -> Tensor:
        xs = self._check(inputs)
        rank = max(x.dim() for x in xs)
        xs = [x.reshape(x.shape[:1] + (1,) * (rank - x.dim()) + x.shape[1:]) for x in xs]  # expand at axis 1
        try:
            return type(self).op(xs)
        except RuntimeError as e:
            shapes = [tuple(x.shape) for x in inputs]
            raise ShapeError(f"{self.name}: inputs of shapes {shapes} do not broadcast together.") from e

    def compute_output_shape(self, input_shape: Any) -> Shape:
        rank = max(len(s) for s in input_shape)
        padded = [(s[0], *(1,) * (rank - len(s)), *s[1:]) for s in input_shape]
        out: list[int | None] = []
        for dims in zip(*padded, strict=True):
            known = {d for d in dims if d not in (None, 1)}
            out.append(known.pop() if len(known) == 1 else (None if None in dims else 1))
        return tuple(out)


def _sum(xs: list[Tensor]) -> Tensor:
    return functools.reduce(torch.add, xs)


class Add(_ElementwiseMerge):
    """The sum of the inputs."""

    op = staticmethod(_sum)


class Subtract(_ElementwiseMerge):
    """inputs[0] - inputs[1] (exactly two inputs)."""

    max_inputs = 2
    op = staticmethod(lambda xs: xs[0] - xs[1])


class Multiply(_ElementwiseMerge):
    """The element-wise product of the inputs."""

    op = staticmethod(lambda xs: functools.reduce(torch.mul, xs))


class Average(_ElementwiseMerge):
    """The element-wise mean of the inputs."""

    op = staticmethod(lambda xs: _sum(xs) / len(xs))


class Maximum(_ElementwiseMerge):
    """The element-wise maximum of the inputs."""

    op = staticmethod(lambda xs: functools.reduce(torch.maximum, xs))


class Minimum(_ElementwiseMerge):
    """The element-wise minimum of the inputs."""

    op = staticmethod(lambda xs: functools.reduce(torch.minimum, xs))


class Concatenate(_Merge):
    """Joins the inputs along ``axis``; all other axes must agree."""

    min_inputs = 1

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(invalid("axis", axis, "an int"))
        self.axis = axis

    def call(self, inputs: Any) -> Tensor:
        xs = self._check(inputs)
        try:
            return torch.cat(xs, dim=self.axis)
        except (RuntimeError, IndexError) as e:
            shapes = [tuple(x.shape) for x in xs]
            raise ShapeError(
                f"{self.name}: inputs of shapes {shapes} cannot be concatenated on axis={self.axis}: "
                "every other axis must match."
            ) from e

    def compute_mask(self, inputs: Any, mask: Any = None) -> Tensor | None:
        if mask is None or not isinstance(mask, (list, tuple)) or all(m is None for m in mask):
            return None
        full = []
        for x, m in zip(inputs, mask, strict=True):
            if m is None:
                full.append(torch.ones_like(x, dtype=torch.bool))
            elif m.dim() < x.dim():
                full.append(m.bool().unsqueeze(-1).expand_as(x))  # (B, T) -> (B, T, D)
            else:
                full.append(m.bool())
        return torch.cat(full, dim=self.axis).any(dim=-1)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        first = list(input_shape[0])
        ax = self.axis % len(first)
        sizes = [s[ax] for s in input_shape]
        first[ax] = None if None in sizes else sum(sizes)
        return tuple(first)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
