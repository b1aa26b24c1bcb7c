"""Keras's per-weight arguments, handled in one place.

Keras gives each weight *role* (``kernel``, ``recurrent``, ``bias``, ``beta``, ``gamma`` ...) three
arguments: ``<role>_initializer``, ``<role>_regularizer`` and ``<role>_constraint``. Dense, the
convolutions and every recurrent cell take the same triples, check them the same way, save them
the same way and hand them to :meth:`~rnnkit.layers.base.Layer.add_weight` together; these
helpers do it once, so a layer only names its roles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from rnnkit.core import constraints as constraints_mod
from rnnkit.core import initializers as init_mod
from rnnkit.core import regularizers as reg_mod
from rnnkit.layers.base import Layer

# Keras's order in get_config: all initializers, then all regularizers, then all constraints.
_KINDS = (("initializer", init_mod), ("regularizer", reg_mod), ("constraint", constraints_mod))
KERNEL_BIAS_ROLES = ("kernel", "bias")  # Dense's and Conv's roles, the weights of add_kernel_and_bias


def set_weight_args(layer: Layer, roles: tuple[str, ...], args: Mapping[str, Any]) -> None:
    """Check ``args[f"{role}_{kind}"]`` for each role and store it as the layer's attribute.

    ``args`` is the layer's own arguments (its ``locals()``): an unknown name raises the
    identifier's own :class:`~rnnkit.errors.ConfigError`, naming the argument.
    """
    for kind, module in _KINDS:
        for role in roles:
            key = f"{role}_{kind}"
            setattr(layer, key, module.get(args[key], argument=key))


def weight_args_config(layer: Layer, roles: tuple[str, ...]) -> dict[str, Any]:
    """The roles' initializers, regularizers and constraints as ``get_config`` saves them."""
    return {
        f"{role}_{kind}": module.serialize(getattr(layer, f"{role}_{kind}"))
        for kind, module in _KINDS
        for role in roles
    }


def add_role_weight(
    layer: Layer, name: str, shape: tuple[int, ...], role: str, initializer: Any = None
) -> nn.Parameter:
    """``layer.add_weight(name, shape)`` with the role's initializer (or ``initializer``),
    regularizer and constraint."""
    return layer.add_weight(
        name,
        shape,
        getattr(layer, f"{role}_initializer") if initializer is None else initializer,
        regularizer=getattr(layer, f"{role}_regularizer"),
        constraint=getattr(layer, f"{role}_constraint"),
    )


def add_optional_weight(layer: Layer, name: str, shape: tuple[int, ...], role: str, present: bool) -> None:
    """:func:`add_role_weight` when ``present`` (``use_bias``, ``center``, ``scale`` ...); otherwise
    ``name`` is registered as None, so ``layer.<name>`` reads None and the weight order holds."""
    if present:
        add_role_weight(layer, name, shape, role)
    else:
        layer.register_parameter(name, None)


def add_kernel_and_bias(layer: Layer, kernel_shape: tuple[int, ...], units: int) -> None:
    """Dense's and Conv's weights: ``weight`` (the kernel role) and, with ``layer.use_bias``,
    ``bias (units,)`` (the bias role); without it ``bias`` is registered as None."""
    kernel, bias = KERNEL_BIAS_ROLES
    add_role_weight(layer, "weight", kernel_shape, kernel)
    add_optional_weight(layer, "bias", (units,), bias, bool(layer.use_bias))
