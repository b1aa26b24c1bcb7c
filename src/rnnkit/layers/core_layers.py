"""Non-recurrent layers that sequence models need: Input, Embedding, Masking,
Dense, Dropout, Activation, TimeDistributed and mask-aware 1-D global pooling.

Shapes: B batch, T time, D features. Weights follow PyTorch's layout
(``Dense.weight`` is (units, D) as in ``nn.Linear``; ``Embedding.weight`` is
(input_dim, output_dim) as in ``nn.Embedding``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from rnnkit.core import activations
from rnnkit.core import constraints as constraints_mod
from rnnkit.core import initializers as init_mod
from rnnkit.core import regularizers as reg_mod
from rnnkit.errors import ConfigError, ShapeError, invalid
from rnnkit.layers import symbolic
from rnnkit.layers.base import Layer, Shape, deserialize_layer, serialize_layer
from rnnkit.layers.weight_args import (
    KERNEL_BIAS_ROLES,
    add_kernel_and_bias,
    set_weight_args,
    weight_args_config,
)

Tensor = torch.Tensor


def check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(invalid(name, value, "a positive integer"))
    return value


def check_rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ConfigError(invalid(name, value, "a float in [0, 1)"))
    return float(value)


def seeded_generator(layer: Any, device: torch.device) -> torch.Generator | None:
    """The generator of ``layer``'s random masks on ``device``: seeded once from ``layer.seed`` and
    kept in ``layer._generator``, so masks differ call to call yet repeat run to run; None (torch's
    global generator) when the seed is None."""
    if layer.seed is None:
        return None
    gen: torch.Generator | None = layer._generator
    if gen is None or gen.device != device:
        gen = torch.Generator(device=device)
        gen.manual_seed(int(layer.seed))
        layer._generator = gen
    return gen


def check_last_dim(layer: Layer, inputs: Tensor, expected: int | None) -> None:
    """A feature size that differs from the built one is an error, named."""
    if expected is not None and inputs.shape[-1] != expected:
        raise ShapeError(
            f"{layer.name}: inputs.shape[-1]={inputs.shape[-1]} is not valid: expected {expected} "
            f"(the layer was built for inputs of shape {layer.build_input_shape})."
        )


class InputLayer(Layer):
    """The layer behind ``Input(...)``: declares the input shape and dtype; passes inputs through.

    Keras's config keys: ``batch_shape`` (batch first, None = any) and ``dtype``.
    """

    supports_masking = True

    def __init__(
        self,
        shape: Shape | None = None,
        batch_size: int | None = None,
        dtype: Any = None,
        batch_shape: Shape | None = None,
        sparse: bool = False,
        ragged: bool = False,
        optional: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if batch_shape is not None:
            batch_shape = tuple(batch_shape)
            shape, batch_size = batch_shape[1:], batch_shape[0]
        if shape is None:
            raise ConfigError(invalid("shape", None, "a tuple of sizes without the batch (None = any)"))
        if sparse or ragged or optional:
            raise ConfigError(invalid("sparse/ragged/optional", True, "False (dense inputs only)"))
        self.shape = tuple(shape)
        self.batch_size = batch_size
        self.dtype = symbolic.dtype_name(symbolic.torch_dtype(dtype or "float32"))
        self.build_input_shape = (batch_size, *self.shape)
        self.built = True  # no weights: nothing to wait for

    def call(self, inputs: Tensor) -> Tensor:
        return inputs

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            "batch_shape": [self.batch_size, *self.shape],
            "dtype": self.dtype,
            "sparse": False,
            "ragged": False,
            "name": self.name,
        }


def Input(  # noqa: N802
    shape: Shape | None = None,
    batch_size: int | None = None,
    dtype: Any = None,
    name: str | None = None,
    batch_shape: Shape | None = None,
) -> symbolic.KerasTensor:
    """Keras's ``Input``: a symbolic tensor to build a functional ``Model(inputs, outputs)`` from,
    or the first entry of a ``Sequential`` (which then builds its weights at once)."""
    layer = InputLayer(shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name)
    return input_tensor(layer)


def input_tensor(layer: InputLayer) -> symbolic.KerasTensor:
    """The symbolic tensor an InputLayer produces (its one Node has no inputs)."""
    t = symbolic.KerasTensor(
        (layer.batch_size, *layer.shape), layer.dtype, name=layer.name, history=(layer, 0, 0)
    )
    layer.__dict__["_inbound_nodes"] = [symbolic.Node(layer, (), {}, [t])]
    return t


class Dense(Layer):
    """y = act(x W^T + b) on the last axis of inputs of any rank."""

    supports_masking = True

    def __init__(
        self,
        units: int,
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
        self.units = check_positive_int("units", units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        set_weight_args(self, KERNEL_BIAS_ROLES, locals())
        self.in_features: int | None = None

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ShapeError(invalid("input_shape", input_shape, "a known last (feature) dimension"))
        self.in_features = int(input_shape[-1])  # type: ignore[arg-type]
        add_kernel_and_bias(self, (self.units, self.in_features), self.units)
        super().build(input_shape)

    def call(self, inputs: Tensor) -> Tensor:
        check_last_dim(self, inputs, self.in_features)
        return self.activation(F.linear(inputs, self.weight, self.bias))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": _activation_name(self.activation),
            "use_bias": self.use_bias,
            **weight_args_config(self, KERNEL_BIAS_ROLES),
        }


def _activation_name(fn: Any) -> str:
    name = activations.name_of(fn)
    if name is None:
        raise ConfigError(invalid("activation", fn, "a named activation to be saved"))
    return name


class Embedding(Layer):
    """Integer ids (B, T) -> vectors (B, T, output_dim). ``mask_zero=True`` masks id 0 (padding)."""

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = None,
        embeddings_regularizer: Any = None,
        embeddings_constraint: Any = None,
        mask_zero: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.input_dim = check_positive_int("input_dim", input_dim)
        self.output_dim = check_positive_int("output_dim", output_dim)
        # Keras's default "uniform" is RandomUniform(-0.05, 0.05).
        self.embeddings_initializer = init_mod.get(
            embeddings_initializer or init_mod.RandomUniform(), argument="embeddings_initializer"
        )
        self.embeddings_regularizer = reg_mod.get(embeddings_regularizer, argument="embeddings_regularizer")
        self.embeddings_constraint = constraints_mod.get(
            embeddings_constraint, argument="embeddings_constraint"
        )
        self.mask_zero = bool(mask_zero)
        # Ids are integers: build from the default float dtype, never the input's.
        self.build((None, None))

    def build(self, input_shape: Shape) -> None:
        if self.built:
            return
        self.add_weight(
            "weight",
            (self.input_dim, self.output_dim),
            self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            constraint=self.embeddings_constraint,
        )
        super().build(input_shape)

    def call(self, inputs: Tensor) -> Tensor:
        if inputs.is_floating_point():
            inputs = inputs.long()  # Keras casts ids to int
        if inputs.numel() and (int(inputs.min()) < 0 or int(inputs.max()) >= self.input_dim):
            bad = int(inputs.max()) if int(inputs.max()) >= self.input_dim else int(inputs.min())
            raise ShapeError(invalid("inputs", f"an id {bad}", f"ids in [0, {self.input_dim})"))
        return F.embedding(inputs, self.weight)

    def compute_mask(self, inputs: Any, mask: Tensor | None = None) -> Tensor | None:
        return inputs != 0 if self.mask_zero else None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape, self.output_dim)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": init_mod.serialize(self.embeddings_initializer),
            "embeddings_regularizer": reg_mod.serialize(self.embeddings_regularizer),
            "embeddings_constraint": constraints_mod.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
        }


class Masking(Layer):
    """Masks every time step whose features all equal ``mask_value`` (and zeroes it)."""

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def call(self, inputs: Tensor) -> Tensor:
        keep = self._keep(inputs)
        return inputs * keep.unsqueeze(-1).to(inputs.dtype)

    def _keep(self, inputs: Tensor) -> Tensor:
        return (inputs != self.mask_value).any(dim=-1)  # (B, T, D) -> (B, T)

    def compute_mask(self, inputs: Any, mask: Tensor | None = None) -> Tensor | None:
        return self._keep(inputs)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}


class Dropout(Layer):
    """Inverted dropout in training (scale kept units by 1 / (1 - rate)); identity at inference."""

    supports_masking = True

    def __init__(
        self, rate: float, noise_shape: Shape | None = None, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.rate = check_rate("rate", rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._generator: torch.Generator | None = None

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        if not training or self.rate == 0.0:
            return inputs
        shape = inputs.shape
        if self.noise_shape is not None:
            shape = torch.Size(
                s if n is None else n for s, n in zip(inputs.shape, self.noise_shape, strict=True)
            )
        keep = (
            torch.rand(shape, device=inputs.device, generator=seeded_generator(self, inputs.device))
            >= self.rate
        )
        return inputs * keep.to(inputs.dtype) / (1.0 - self.rate)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        noise = None if self.noise_shape is None else list(self.noise_shape)
        return {**super().get_config(), "rate": self.rate, "noise_shape": noise, "seed": self.seed}


class Activation(Layer):
    """Applies an activation function by name."""

    supports_masking = True

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: Tensor) -> Tensor:
        return self.activation(inputs)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": _activation_name(self.activation)}


class TimeDistributed(Layer):
    """Applies ``layer`` to every time step: (B, T, ...) -> fold to (B*T, ...) -> (B, T, ...)."""

    supports_masking = True

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ConfigError(invalid("layer", layer, "an rnnkit Layer"))
        self.layer = layer

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 3:
            raise ShapeError(invalid("input_shape", input_shape, "at least 3 dimensions (batch, time, ...)"))
        self.build_sublayer(self.layer, (None, *input_shape[2:]))
        super().build(input_shape)

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        B, T = inputs.shape[:2]
        y = self.layer(inputs.reshape(B * T, *inputs.shape[2:]), training=training)  # (B*T, ...)
        return y.reshape(B, T, *y.shape[1:])  # (B*T, ...) -> (B, T, ...)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        inner = self.layer.compute_output_shape((input_shape[0], *input_shape[2:]))
        return (input_shape[0], input_shape[1], *inner[1:])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"])
        return cls(**config)


class _GlobalPooling1D(Layer):
    """Pool over time, skipping masked steps. (B, T, D) -> (B, D)."""

    supports_masking = True

    def compute_mask(self, inputs: Any, mask: Tensor | None = None) -> Tensor | None:
        return None

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], input_shape[2])


class GlobalAveragePooling1D(_GlobalPooling1D):
    def call(self, inputs: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is None:
            return inputs.mean(dim=1)
        m = mask.unsqueeze(-1).to(inputs.dtype)  # (B, T) -> (B, T, 1)
        return (inputs * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)


class GlobalMaxPooling1D(_GlobalPooling1D):
    def call(self, inputs: Tensor, mask: Tensor | None = None) -> Tensor:
        if mask is None:
            return inputs.amax(dim=1)
        neg = torch.finfo(inputs.dtype).min
        return inputs.masked_fill(~mask.unsqueeze(-1), neg).amax(dim=1)
