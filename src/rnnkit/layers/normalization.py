"""Normalization with Keras 3's arguments, defaults and numerics: BatchNormalization and
LayerNormalization.

BatchNormalization (Ioffe & Szegedy 2015) normalizes each feature of ``axis`` over all the
other axes (batch, time, space)::

    training (and trainable):  m, v = mean and biased variance of the batch (masked steps excluded)
                               moving_mean     <- momentum * moving_mean     + (1 - momentum) * m
                               moving_variance <- momentum * moving_variance + (1 - momentum) * v
    inference:                 m, v = moving_mean, moving_variance
    y = gamma * (x - m) / sqrt(v + epsilon) + beta

Keras's defaults differ from ``torch.nn.BatchNorm``: momentum 0.99 is the weight of the *old*
statistic (torch's 0.1 weighs the new one), epsilon is 1e-3 (torch 1e-5), and the moving
variance takes the biased batch variance (torch the unbiased). As in Keras, a BatchNormalization
with ``trainable=False`` runs in inference mode even when training (the fine-tuning rule).

LayerNormalization (Ba et al. 2016) normalizes each sample over ``axis``::

    y = gamma * (x - mean(x)) / sqrt(var(x) + epsilon) + beta      (epsilon 1e-3, as Keras)

Weights: ``weight`` (gamma), ``bias`` (beta) and, for BatchNormalization, ``running_mean`` and
``running_var`` -- torch.nn's names, Keras's order and layout, so ``get_weights()`` is Keras's
``[gamma, beta, moving_mean, moving_variance]``. The moving statistics are non-trainable
``Parameter``s (Keras counts them in ``count_params`` and saves them as weights).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from rnnkit.core import initializers as init_mod
from rnnkit.errors import ConfigError, ShapeError, invalid
from rnnkit.layers.base import Layer, Shape
from rnnkit.layers.weight_args import add_optional_weight, set_weight_args, weight_args_config

NORM_ROLES = ("beta", "gamma")  # the bias (center) and the weight (scale)

Tensor = torch.Tensor

MASK_EPSILON = 1e-7  # Keras's backend.epsilon(), added to the masked moments' denominators


def _check_float(name: str, value: Any, low: float, high: float | None = None) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= low
    if not ok or (high is not None and value > high):
        bound = f"a number >= {low}" if high is None else f"a number in [{low}, {high}]"
        raise ConfigError(invalid(name, value, bound))
    return float(value)


def _at_least_float32(x: Tensor) -> Tensor:
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _axis_index(axis: int, ndim: int, name: str) -> int:
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{name}: axis={axis} is not valid for inputs of {ndim} dimensions.")
    return axis % ndim


class BatchNormalization(Layer):
    """Batch normalization over every axis but ``axis`` (the features; 1 for channels_first)."""

    weight: Tensor | None  # gamma (F,)
    bias: Tensor | None  # beta (F,)
    running_mean: Tensor  # moving_mean (F,), not trainable
    running_var: Tensor  # moving_variance (F,), not trainable

    supports_masking = True

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        synchronized: bool = False,
        renorm: bool = False,
        renorm_clipping: Any = None,
        renorm_momentum: float = 0.99,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]  # Keras 2 files save the built axis as a list, e.g. [3]
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ConfigError(invalid("axis", axis, "an int (the feature axis)"))
        # Not implemented, refused rather than ignored: cross-replica statistics and batch renorm.
        if synchronized:
            raise ConfigError(invalid("synchronized", synchronized, "False (no cross-device statistics)"))
        if renorm:
            raise ConfigError(invalid("renorm", renorm, "False (batch renormalization is not supported)"))
        self.axis = axis
        self.momentum = _check_float("momentum", momentum, 0.0, 1.0)
        self.epsilon = _check_float("epsilon", epsilon, 0.0)
        self.center = bool(center)
        self.scale = bool(scale)
        set_weight_args(self, NORM_ROLES, locals())
        self.moving_mean_initializer = init_mod.get(
            moving_mean_initializer, argument="moving_mean_initializer"
        )
        self.moving_variance_initializer = init_mod.get(
            moving_variance_initializer, argument="moving_variance_initializer"
        )
        self.renorm_clipping = renorm_clipping
        self.renorm_momentum = float(renorm_momentum)
        self.features: int | None = None

    def build(self, input_shape: Shape) -> None:
        ax = _axis_index(self.axis, len(input_shape), self.name)
        size = input_shape[ax]
        if size is None:
            raise ShapeError(invalid("input_shape", tuple(input_shape), f"a known size on axis {self.axis}"))
        self.features = int(size)
        n = (self.features,)
        add_optional_weight(self, "weight", n, "gamma", self.scale)
        add_optional_weight(self, "bias", n, "beta", self.center)
        self.add_weight("running_mean", n, self.moving_mean_initializer, trainable=False)
        self.add_weight("running_var", n, self.moving_variance_initializer, trainable=False)
        super().build(input_shape)

    @property
    def moving_mean(self) -> Tensor:
        return self.running_mean

    @property
    def moving_variance(self) -> Tensor:
        return self.running_var

    def call(self, inputs: Tensor, training: bool = False, mask: Tensor | None = None) -> Tensor:
        # Statistics in at least float32, as Keras (a bfloat16 variance is too coarse); the output
        # takes the input's dtype back.
        x = _at_least_float32(inputs)
        return self._normalize(x, training, mask).to(inputs.dtype)

    def _normalize(self, inputs: Tensor, training: bool, mask: Tensor | None) -> Tensor:
        ax = _axis_index(self.axis, inputs.dim(), self.name)
        if inputs.shape[ax] != self.features:
            raise ShapeError(
                f"{self.name}: inputs.shape[{self.axis}]={inputs.shape[ax]} is not valid: "
                f"expected {self.features}."
            )
        reduce = [d for d in range(inputs.dim()) if d != ax]
        view = [1] * inputs.dim()
        view[ax] = -1  # (F,) -> broadcastable against the inputs
        if training and self.trainable:
            mean, var = self._moments(inputs, reduce, mask)
            with torch.no_grad():
                m = self.momentum
                self.running_mean.mul_(m).add_(mean.detach().to(self.running_mean.dtype), alpha=1.0 - m)
                self.running_var.mul_(m).add_(var.detach().to(self.running_var.dtype), alpha=1.0 - m)
        else:
            mean, var = self.running_mean, self.running_var
        inv = torch.rsqrt(var + self.epsilon)
        if self.weight is not None:
            inv = inv * self.weight
        shift = -mean * inv
        if self.bias is not None:
            shift = shift + self.bias
        return inputs * inv.view(view) + shift.view(view)

    @staticmethod
    def _moments(x: Tensor, reduce: list[int], mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """Mean and biased variance over ``reduce``; a (B, T, ...) mask weights the steps (Keras)."""
        if mask is None:
            var, mean = torch.var_mean(x, dim=reduce, correction=0)
            return mean, var
        if mask.dim() != x.dim() - 1:
            raise ShapeError(
                f"mask.shape={tuple(mask.shape)} is not valid: expected one dimension less than "
                f"inputs.shape={tuple(x.shape)}."
            )
        w = mask.unsqueeze(-1).expand_as(x)  # (B, T) -> (B, T, F)
        count = w.to(x.dtype).sum(dim=reduce) + MASK_EPSILON
        mean = torch.where(w, x, 0.0).sum(dim=reduce) / count
        shape = [1] * x.dim()
        keep = next(d for d in range(x.dim()) if d not in reduce)
        shape[keep] = -1
        var = torch.where(w, x - mean.view(shape), 0.0).square().sum(dim=reduce) / count
        return mean, var

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **weight_args_config(self, NORM_ROLES),
            "moving_mean_initializer": init_mod.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": init_mod.serialize(self.moving_variance_initializer),
            "synchronized": False,
            "renorm": False,
            "renorm_clipping": self.renorm_clipping,
            "renorm_momentum": self.renorm_momentum,
        }


class LayerNormalization(Layer):
    """Layer normalization of each sample over ``axis`` (an int or a list of ints)."""

    weight: Tensor | None  # gamma
    bias: Tensor | None  # beta

    supports_masking = True

    def __init__(
        self,
        axis: int | list[int] = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        rms_scaling: bool = False,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        axes = axis if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, int) for a in axes):
            raise ConfigError(invalid("axis", axis, "an int or a list of ints"))
        self.axis: int | list[int] = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.epsilon = _check_float("epsilon", epsilon, 0.0)
        self.center = bool(center)
        self.scale = bool(scale)
        # Keras's deprecated rms_scaling divides by the root of the *variance* (not the mean square)
        # and drops beta; kept for files that use it.
        self.rms_scaling = bool(rms_scaling)
        set_weight_args(self, NORM_ROLES, locals())
        self._axes: list[int] = []

    def build(self, input_shape: Shape) -> None:
        ndim = len(input_shape)
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        self._axes = sorted(_axis_index(a, ndim, self.name) for a in axes)
        # Keras stores the axis as a sorted list once built (so its config says [-1]).
        self.axis = sorted(axes)
        shape = tuple(input_shape[a] for a in self._axes)
        if None in shape:
            raise ShapeError(invalid("input_shape", tuple(input_shape), f"known sizes on axis {self.axis}"))
        add_optional_weight(self, "weight", shape, "gamma", self.scale or self.rms_scaling)  # type: ignore[arg-type]
        add_optional_weight(self, "bias", shape, "beta", self.center and not self.rms_scaling)  # type: ignore[arg-type]
        super().build(input_shape)

    def call(self, inputs: Tensor) -> Tensor:
        return self._normalize(_at_least_float32(inputs)).to(inputs.dtype)  # float32 math, as Keras

    def _normalize(self, inputs: Tensor) -> Tensor:
        axes = self._axes
        view = [inputs.shape[d] if d in axes else 1 for d in range(inputs.dim())]  # gamma -> broadcastable
        trailing = axes == list(range(inputs.dim() - len(axes), inputs.dim()))
        if self.rms_scaling:
            var = inputs.var(dim=axes, keepdim=True, correction=0)
            y = inputs * torch.rsqrt(var + self.epsilon)
            return y * self.weight.view(view) if self.weight is not None else y
        if trailing:  # the normalized axes are the last ones: torch's fused kernel
            shape = tuple(inputs.shape[d] for d in axes)
            return F.layer_norm(inputs, shape, self.weight, self.bias, self.epsilon)
        var, mean = torch.var_mean(inputs, dim=axes, keepdim=True, correction=0)
        y = (inputs - mean) * torch.rsqrt(var + self.epsilon)
        if self.weight is not None:
            y = y * self.weight.view(view)
        if self.bias is not None:
            y = y + self.bias.view(view)
        return y

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "rms_scaling": self.rms_scaling,
            **weight_args_config(self, NORM_ROLES),
        }
