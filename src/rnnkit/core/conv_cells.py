"""Convolution arithmetic (Keras's padding rules) and the ConvLSTM cell, as pure functions.

ConvLSTM (Shi et al. 2015, "Convolutional LSTM Network: A Machine Learning Approach for
Precipitation Nowcasting", eq. 3; Keras's ``ConvLSTMCell``, which has no peepholes) is an LSTM
whose matrix products are convolutions, so every state keeps the input's spatial layout.
Shapes: B batch, C input channels, F filters, S the r spatial dims (r = 1, 2, 3) of the input
and S' those of the output (= of the states); tensors are channels first here, (B, C, *S)::

    xp_t = conv(x_t, W_x, stride, padding, dilation) + b      (B, 4F, *S')   -- no state: batchable
    hp_t = conv(h_{t-1}, W_h, stride 1, "same")               (B, 4F, *S')
    i, f, g, o = split(xp_t + hp_t, 4 on the channel axis)
    i, f, o = rec(i), rec(f), rec(o);  g = act(g)              (rec = sigmoid, act = tanh by default)
    c_t = f * c_{t-1} + i * g
    h_t = o * act(c_t)

Weights are laid out as ``torch.nn.ConvNd``'s: ``weight_ih (4F, C, *k)``, ``weight_hh (4F, F, *k)``,
``bias (4F,)``, gates in the order i, f, g (Keras's "c"), o -- Keras's own order.

Padding per spatial dim, with k_eff = (k - 1) * dilation + 1 (Keras's and TensorFlow's rule):
``valid`` none; ``same`` total = max((ceil(n / s) - 1) * s + k_eff - n, 0), split total // 2
before and the rest after; ``causal`` (1-D) k_eff - 1 before.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Tensor = torch.Tensor
State = tuple[Tensor, ...]

CONV_FNS: dict[int, Callable[..., Tensor]] = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


# ------------------------------------------------------------- padding rules
def same_padding(length: int, k_eff: int, stride: int) -> tuple[int, int]:
    """(before, after) for "same" padding of one spatial dim (the odd pixel goes after)."""
    out = math.ceil(length / stride)
    total = max((out - 1) * stride + k_eff - length, 0)
    return total // 2, total - total // 2


def pad_amounts(
    spatial: tuple[int, ...],
    padding: str,
    kernel: tuple[int, ...],
    strides: tuple[int, ...],
    dilation: tuple[int, ...],
) -> list[tuple[int, int]]:
    """(before, after) per spatial dim for ``padding`` ("valid", "same" or "causal")."""
    pads = []
    for n, k, s, d in zip(spatial, kernel, strides, dilation, strict=True):
        k_eff = (k - 1) * d + 1
        if padding == "same":
            pads.append(same_padding(n, k_eff, s))
        elif padding == "causal":
            pads.append((k_eff - 1, 0))
        else:
            pads.append((0, 0))
    return pads


def flat_pad(pads: list[tuple[int, int]]) -> tuple[int, ...]:
    """[(before, after) per dim, first dim first] -> F.pad's order (last dim first)."""
    return tuple(v for pair in reversed(pads) for v in pair)


def conv_output_length(
    length: int | None, k: int, padding: str, stride: int, dilation: int = 1
) -> int | None:
    """Output size of one spatial dim (None stays None)."""
    if length is None:
        return None
    if padding == "same":
        return math.ceil(length / stride)
    if padding == "causal":
        return (length - 1) // stride + 1
    k_eff = (k - 1) * dilation + 1
    return max((length - k_eff) // stride + 1, 0)


def conv(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    strides: tuple[int, ...],
    padding: str,
    dilation: tuple[int, ...],
    groups: int = 1,
) -> Tensor:
    """An r-D convolution of channels-first x (N, C, *S) with Keras's padding rules."""
    kernel = tuple(weight.shape[2:])
    pads = pad_amounts(tuple(x.shape[2:]), padding, kernel, strides, dilation)
    if all(a == b for a, b in pads):  # symmetric: the convolution pads by itself, no padded copy of x
        return CONV_FNS[len(kernel)](x, weight, bias, strides, tuple(a for a, _ in pads), dilation, groups)
    x = F.pad(x, flat_pad(pads))  # zeros; the odd pixel after
    return CONV_FNS[len(kernel)](x, weight, bias, strides, 0, dilation, groups)


# ------------------------------------------------------------------ ConvLSTM
@dataclass(frozen=True)
class ConvLSTMParams:
    """Everything one ConvLSTM step needs: weights, convolution settings and activations."""

    weight_ih: Tensor  # (4F, C, *k)
    weight_hh: Tensor  # (4F, F, *k)
    bias: Tensor | None  # (4F,)
    strides: tuple[int, ...]
    padding: str  # of the input convolution; the recurrent one is always "same", stride 1
    dilation: tuple[int, ...]
    activation: Callable[[Tensor], Tensor] = torch.tanh
    recurrent_activation: Callable[[Tensor], Tensor] = torch.sigmoid

    @property
    def rank(self) -> int:
        return self.weight_ih.dim() - 2

    @property
    def filters(self) -> int:
        return self.weight_hh.shape[1]

    def state_spatial(self, spatial: tuple[int, ...]) -> tuple[int, ...]:
        """S' (the states' spatial dims) for inputs of spatial dims S."""
        k = tuple(self.weight_ih.shape[2:])
        out = (
            conv_output_length(n, kk, self.padding, s, d)
            for n, kk, s, d in zip(spatial, k, self.strides, self.dilation, strict=True)
        )
        return tuple(int(o) for o in out)  # type: ignore[arg-type]


def conv_lstm_input(x: Tensor, p: ConvLSTMParams) -> Tensor:
    """xp = conv(x, W_x) + b for x (N, C, *S) -> (N, 4F, *S'); N may fold batch and time."""
    return conv(x, p.weight_ih, p.bias, p.strides, p.padding, p.dilation)


def conv_lstm_step(xp_t: Tensor, state: State, p: ConvLSTMParams, h_in: Tensor | None = None) -> State:
    """One step from the input projection xp_t (B, 4F, *S') and (h, c) (B, F, *S') -> (h_t, c_t).

    ``h_in`` replaces h in the recurrent convolution only (recurrent dropout; the carried h is not
    dropped, as Keras).
    """
    h, c = state
    ones = (1,) * p.rank
    hp = conv(h if h_in is None else h_in, p.weight_hh, None, ones, "same", ones)  # (B, 4F, *S')
    i, f, g, o = (xp_t + hp).chunk(4, dim=1)
    i, f, o = p.recurrent_activation(i), p.recurrent_activation(f), p.recurrent_activation(o)
    c_new = f * c + i * p.activation(g)
    h_new = o * p.activation(c_new)
    return h_new, c_new
