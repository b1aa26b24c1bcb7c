"""Activation functions by Keras name.

``get("tanh")`` returns a callable on tensors; ``name_of(fn)`` gives the name back
for serialization (``None`` for a user's own callable, which cannot be saved).
The definitions follow Keras 3 (``keras/src/activations/activations.py``), e.g.
``hard_sigmoid(x) = relu6(x + 3) / 6``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from rnnkit.errors import ConfigError, invalid

Activation = Callable[[torch.Tensor], torch.Tensor]


def linear(x: torch.Tensor) -> torch.Tensor:
    """Identity: f(x) = x."""
    return x


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Keras 3's hard sigmoid: relu6(x + 3) / 6."""
    return F.relu6(x + 3.0) / 6.0


def softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis."""
    return torch.softmax(x, dim=-1)


def log_softmax(x: torch.Tensor) -> torch.Tensor:
    """Log-softmax over the last axis."""
    return torch.log_softmax(x, dim=-1)


def gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU, Keras's default form (tanh approximation)."""
    return F.gelu(x, approximate="tanh")


def leaky_relu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU with Keras's default slope 0.2."""
    return F.leaky_relu(x, negative_slope=0.2)


ACTIVATIONS: dict[str, Activation] = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "linear": linear,
    "hard_sigmoid": hard_sigmoid,
    "elu": F.elu,
    "selu": torch.selu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "swish": F.silu,
    "silu": F.silu,
    "gelu": gelu,
    "relu6": F.relu6,
    "leaky_relu": leaky_relu,
    "exponential": torch.exp,
    "softmax": softmax,
    "log_softmax": log_softmax,
}
_NAMES: dict[Activation, str] = {fn: name for name, fn in reversed(list(ACTIVATIONS.items()))}


def get(identifier: str | Activation | None, *, argument: str = "activation") -> Activation:
    """Resolve a name, ``None`` (linear) or a callable to an activation function."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = ACTIVATIONS.get(identifier)
        if fn is None:
            raise ConfigError(invalid(argument, identifier, sorted(ACTIVATIONS)))
        return fn
    if callable(identifier):
        return identifier
    raise ConfigError(invalid(argument, identifier, "a name, a callable or None"))


def name_of(fn: Activation) -> str | None:
    """The registry name of ``fn``, or ``None`` for a user's own callable."""
    return _NAMES.get(fn)
