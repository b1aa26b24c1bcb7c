"""Weight constraints with Keras's names, applied after each optimizer step.

Keras kernels are ``(in, out)`` and its ``axis=0`` means "the norm of each output
unit's incoming weights". rnnkit stores ``(out, in)``, so layers apply a
constraint to the transpose of 2-D weights (:func:`apply`), and ``axis`` keeps
Keras's meaning.
"""

from __future__ import annotations

from typing import Any

import torch

from rnnkit.errors import ConfigError, invalid

_EPS = 1e-7  # Keras's backend.epsilon()


class Constraint:
    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}


class NonNeg(Constraint):
    """w = max(w, 0)."""

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w.clamp_min(0.0)


class MaxNorm(Constraint):
    """Rescale so that ||w||_2 along ``axis`` is at most ``max_value``."""

    def __init__(self, max_value: float = 2.0, axis: int = 0) -> None:
        self.max_value, self.axis = max_value, axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = w.square().sum(dim=self.axis, keepdim=True).sqrt()
        desired = norms.clamp(0.0, self.max_value)
        return w * (desired / (_EPS + norms))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class UnitNorm(Constraint):
    """w / ||w||_2 along ``axis``."""

    def __init__(self, axis: int = 0) -> None:
        self.axis = axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w / (_EPS + w.square().sum(dim=self.axis, keepdim=True).sqrt())

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Norm along ``axis`` pulled into [min_value, max_value] at ``rate``."""

    def __init__(
        self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: int = 0
    ) -> None:
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = w.square().sum(dim=self.axis, keepdim=True).sqrt()
        desired = self.rate * norms.clamp(self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (_EPS + norms))

    def get_config(self) -> dict[str, Any]:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


CONSTRAINTS: dict[str, type[Constraint]] = {
    "non_neg": NonNeg,
    "max_norm": MaxNorm,
    "unit_norm": UnitNorm,
    "min_max_norm": MinMaxNorm,
}
_CLASS_NAMES = {cls: name for name, cls in CONSTRAINTS.items()}


def get(identifier: Any, *, argument: str = "constraint") -> Constraint | None:
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str) and identifier in CONSTRAINTS:
        return CONSTRAINTS[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in CONSTRAINTS:
        return CONSTRAINTS[identifier["class_name"]](**identifier.get("config", {}))
    if callable(identifier):
        return identifier  # type: ignore[no-any-return]
    raise ConfigError(invalid(argument, identifier, sorted(CONSTRAINTS) + [None]))


def serialize(c: Constraint | None) -> dict[str, Any] | None:
    if c is None:
        return None
    name = _CLASS_NAMES.get(type(c))
    if name is None:
        raise ConfigError(invalid("constraint", c, "a built-in constraint to be saved"))
    return {"class_name": name, "config": c.get_config()}


@torch.no_grad()
def apply(constraint: Constraint, weight: torch.Tensor) -> None:
    """Constrain ``weight`` in place, reading 2-D weights in Keras's (in, out) orientation."""
    if weight.dim() == 2:
        weight.copy_(constraint(weight.T).T)
    else:
        weight.copy_(constraint(weight))
