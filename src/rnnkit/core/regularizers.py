"""Weight penalties with Keras's names and defaults.

A regularizer maps a weight to a scalar added to the training loss:
l1: a * sum|w|, l2: b * sum w^2 (Keras default a = b = 0.01 for the names).
"""

from __future__ import annotations

from typing import Any

import torch

from rnnkit.errors import ConfigError, invalid


class Regularizer:
    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}


class L1L2(Regularizer):
    """l1 * sum|w| + l2 * sum w^2."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        out = w.new_zeros(())
        if self.l1:
            out = out + self.l1 * w.abs().sum()
        if self.l2:
            out = out + self.l2 * w.square().sum()
        return out

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


REGULARIZERS: dict[str, type[Regularizer]] = {"l1": L1, "l2": L2, "l1_l2": L1L2}
_CLASS_NAMES = {cls: name for name, cls in REGULARIZERS.items()}


def get(identifier: Any, *, argument: str = "regularizer") -> Regularizer | None:
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str) and identifier in REGULARIZERS:
        return REGULARIZERS[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in REGULARIZERS:
        return REGULARIZERS[identifier["class_name"]](**identifier.get("config", {}))
    if callable(identifier):
        return identifier  # type: ignore[no-any-return]
    raise ConfigError(invalid(argument, identifier, sorted(REGULARIZERS) + [None]))


def serialize(reg: Regularizer | None) -> dict[str, Any] | None:
    if reg is None:
        return None
    name = _CLASS_NAMES.get(type(reg))
    if name is None:
        raise ConfigError(invalid("regularizer", reg, "a built-in regularizer to be saved"))
    return {"class_name": name, "config": reg.get_config()}
