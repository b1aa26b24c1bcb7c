"""Weight converters between rnnkit (PyTorch layout) and Keras 3 and torch.nn.

rnnkit stores what ``torch.nn`` stores: ``weight_ih (G, D)``, ``weight_hh (G, H)``,
``bias_ih``, ``bias_hh``, LSTM gates i, f, g, o and GRU gates r, z, n. Keras stores
``kernel (D, G)``, ``recurrent_kernel (H, G)`` and one ``bias (G,)`` (GRU with
reset_after: ``(2, G)``, input and recurrent rows), LSTM gates i, f, c, o and GRU
gates z, r, h. So Keras -> rnnkit is a transpose, plus a gate swap for GRU, plus
``bias_ih = bias, bias_hh = 0`` where Keras has one bias (and ``bias = b_ih + b_hh``
going back, which computes the same function).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from rnnkit.errors import ConfigError, ShapeError, invalid
from rnnkit.layers.base import Layer
from rnnkit.layers.bidirectional import Bidirectional
from rnnkit.layers.cell import RecurrentCell
from rnnkit.layers.core_layers import Dense, Embedding
from rnnkit.layers.recurrent import RNN


def _swap_rz(a: np.ndarray, units: int, axis: int) -> np.ndarray:
    """GRU gate blocks [r, z, n] <-> [z, r, n] along ``axis`` (the swap is its own inverse)."""
    r, z, n = np.split(a, [units, 2 * units], axis=axis)
    return np.concatenate([z, r, n], axis=axis)


def _np(t: torch.Tensor | None) -> np.ndarray:
    return np.zeros(0) if t is None else t.detach().cpu().numpy()


def cell_to_keras(cell: RecurrentCell) -> list[np.ndarray]:
    """[kernel (D, G), recurrent_kernel (H, G), bias] in Keras's layout and gate order."""
    H = cell.units
    kernel, recurrent = _np(cell.weight_ih).T, _np(cell.weight_hh).T
    if cell.kind == "gru":
        kernel, recurrent = _swap_rz(kernel, H, 1), _swap_rz(recurrent, H, 1)
    out = [kernel, recurrent]
    if cell.use_bias:
        b_ih, b_hh = _np(cell.bias_ih), _np(cell.bias_hh)
        if cell.kind == "gru":
            b_ih, b_hh = _swap_rz(b_ih, H, 0), _swap_rz(b_hh, H, 0)
            if getattr(cell, "reset_after", True):
                out.append(np.stack([b_ih, b_hh]))
                return out
        out.append(b_ih + b_hh)
    return out


@torch.no_grad()
def cell_from_keras(cell: RecurrentCell, weights: list[Any]) -> None:
    """Load Keras ``[kernel, recurrent_kernel, bias]`` into a built cell."""
    if not cell.built:
        raise ConfigError(invalid("cell", cell.name, "a built cell (call the layer once, or build it)"))
    expected = 3 if cell.use_bias else 2
    if len(weights) != expected:
        raise ShapeError(invalid("weights", f"{len(weights)} arrays", f"{expected} arrays"))
    H = cell.units
    kernel, recurrent = np.asarray(weights[0]), np.asarray(weights[1])
    if cell.kind == "gru":
        kernel, recurrent = _swap_rz(kernel, H, 1), _swap_rz(recurrent, H, 1)
    _copy(cell.weight_ih, kernel.T)
    _copy(cell.weight_hh, recurrent.T)
    if cell.use_bias:
        bias = np.asarray(weights[2])
        if cell.kind == "gru":
            bias = _swap_rz(bias, H, bias.ndim - 1)
        if bias.ndim == 2:  # GRU reset_after: (2, 3H) = input row, recurrent row
            _copy(cell.bias_ih, bias[0])
            _copy(cell.bias_hh, bias[1])
        else:
            _copy(cell.bias_ih, bias)
            cell.bias_hh.zero_()


def _copy(param: torch.Tensor, value: np.ndarray) -> None:
    t = torch.as_tensor(np.ascontiguousarray(value), dtype=param.dtype, device=param.device)
    if t.shape != param.shape:
        raise ShapeError(invalid("weights", tuple(t.shape), f"shape {tuple(param.shape)}"))
    param.copy_(t)


# Layers whose weights differ from Keras's in layout; every other layer stores Keras's own.
_HAS_TORCH_LAYOUT = frozenset({RNN, RecurrentCell, Bidirectional, Dense, Embedding})


def to_keras(layer: Layer) -> list[np.ndarray]:
    """The weights of an rnnkit layer in the order and layout Keras's ``get_weights()`` uses."""
    if hasattr(layer, "keras_weights"):  # layers that know their own Keras layout (Conv*, ConvLSTM*)
        return layer.keras_weights()
    if isinstance(layer, Bidirectional):
        return to_keras(layer.forward_layer) + to_keras(layer.backward_layer)
    if isinstance(layer, RNN):
        return [w for cell in layer.cells for w in cell_to_keras(cell)]
    if isinstance(layer, Dense):
        return [_np(layer.weight).T] + ([_np(layer.bias)] if layer.use_bias else [])
    if isinstance(layer, Embedding):
        return [_np(layer.weight)]
    if isinstance(layer, RecurrentCell):
        return cell_to_keras(layer)
    if isinstance(layer, Layer) and not _HAS_TORCH_LAYOUT.intersection(type(layer).__mro__):
        return layer.get_weights()  # same layout and order as Keras (BatchNormalization, ...)
    raise ConfigError(
        invalid("layer", type(layer).__name__, "Bidirectional, an RNN layer, a cell, Dense or Embedding")
    )


@torch.no_grad()
def from_keras(layer: Layer, weights: list[Any]) -> None:
    """Load weights from Keras's ``get_weights()`` order into a built rnnkit layer."""
    weights = list(weights)
    if hasattr(layer, "set_keras_weights"):  # layers that know their own Keras layout (Conv*, ConvLSTM*)
        layer.set_keras_weights(weights)
    elif isinstance(layer, Bidirectional):
        half = len(weights) // 2
        from_keras(layer.forward_layer, weights[:half])
        from_keras(layer.backward_layer, weights[half:])
    elif isinstance(layer, RNN):
        for cell in layer.cells:
            n = 3 if cell.use_bias else 2
            cell_from_keras(cell, weights[:n])
            weights = weights[n:]
    elif isinstance(layer, RecurrentCell):
        cell_from_keras(layer, weights)
    elif isinstance(layer, Dense):
        _copy(layer.weight, np.asarray(weights[0]).T)
        if layer.use_bias:
            _copy(layer.bias, np.asarray(weights[1]))
    elif isinstance(layer, Embedding):
        _copy(layer.weight, np.asarray(weights[0]))
    elif isinstance(layer, Layer) and not _HAS_TORCH_LAYOUT.intersection(type(layer).__mro__):
        layer.set_weights(weights)
    else:
        raise ConfigError(
            invalid("layer", type(layer).__name__, "Bidirectional, an RNN layer, a cell, Dense or Embedding")
        )


@torch.no_grad()
def from_torch(cell_or_layer: Layer, module: nn.RNNBase, layer_index: int = 0, reverse: bool = False) -> None:
    """Copy one layer (and direction) of ``torch.nn.LSTM/GRU/RNN`` into an rnnkit cell or layer."""
    cell = cell_or_layer.cells[0] if isinstance(cell_or_layer, RNN) else cell_or_layer
    if not isinstance(cell, RecurrentCell) or not cell.built:
        raise ConfigError(
            invalid("cell_or_layer", type(cell_or_layer).__name__, "a built rnnkit cell or RNN layer")
        )
    suffix = f"_l{layer_index}" + ("_reverse" if reverse else "")
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        src = getattr(module, name + suffix, None)
        dst = getattr(cell, name)
        if (src is None) != (dst is None):
            raise ConfigError(
                invalid("use_bias", cell.use_bias, f"bias={module.bias} as in the torch module")
            )
        if src is not None:
            _copy(dst, src.detach().cpu().numpy())
