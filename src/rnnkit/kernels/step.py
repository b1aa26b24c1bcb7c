"""One recurrent step with weights packed once: the decoding (keyboard) kernel.

At batch 1 a step is a few matrix-vector products, bound by reading the weights
from memory; what is left to win is per-call overhead and layout. So the weights are
packed once, when a decoder is made, never per call (``torch.nn.LSTM`` called per step
repacks them inside oneDNN every time: 2-11 ms here):

- SimpleRNN/LSTM: one product per layer, ``[x, h] @ W_cat`` with
  ``W_cat = [W_ih, W_hh]^T`` (D+H, G) contiguous and ``b = b_ih + b_hh``;
- GRU (the n gate needs x and h apart): ``x @ W_ih^T`` and ``h @ W_hh^T``, each contiguous;
- an output layer: ``addmm(b, x, W^T)`` with W^T contiguous -- for a (V, E) weight and
  one row this measured 2.6x faster than ``F.linear(x, W, b)``.

Layer norm and zoneout cells are not packed: :func:`pack_cell` returns None and callers
use :func:`rnnkit.core.cells.cell_step`. The results equal ``cell_step`` (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from rnnkit.core.cells import CellParams, State

Tensor = torch.Tensor


@dataclass(frozen=True)
class PackedCell:
    kind: str
    units: int
    w_cat: Tensor | None  # (D+H, G): rnn, lstm
    b_cat: Tensor | None  # (G,)
    w_ih_t: Tensor | None  # (D, G): gru
    w_hh_t: Tensor | None  # (H, G): gru
    b_ih: Tensor | None
    b_hh: Tensor | None
    activation: Callable[[Tensor], Tensor]
    recurrent_activation: Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class PackedLinear:
    weight_t: Tensor  # (in, out) contiguous
    bias: Tensor | None


def _sum(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    if a is None:
        return b
    return a if b is None else a + b


@torch.no_grad()
def pack_cell(p: CellParams) -> PackedCell | None:
    """Pack a cell's (detached) weights for :func:`packed_step`; None if the cell cannot be packed."""
    if p.layer_norm is not None or (p.kind == "gru" and not p.reset_after):
        return None
    common = {"kind": p.kind, "units": p.units, "activation": p.activation}
    common["recurrent_activation"] = p.recurrent_activation
    if p.kind == "gru":
        return PackedCell(
            w_cat=None,
            b_cat=None,
            w_ih_t=p.weight_ih.detach().t().contiguous(),
            w_hh_t=p.weight_hh.detach().t().contiguous(),
            b_ih=None if p.bias_ih is None else p.bias_ih.detach().clone(),
            b_hh=None if p.bias_hh is None else p.bias_hh.detach().clone(),
            **common,  # type: ignore[arg-type]
        )
    w_cat = torch.cat([p.weight_ih.detach(), p.weight_hh.detach()], dim=1).t().contiguous()  # (D+H, G)
    b = _sum(p.bias_ih, p.bias_hh)
    return PackedCell(
        w_cat=w_cat,
        b_cat=None if b is None else b.detach().clone(),
        w_ih_t=None,
        w_hh_t=None,
        b_ih=None,
        b_hh=None,
        **common,  # type: ignore[arg-type]
    )


@torch.no_grad()
def pack_linear(weight: Tensor, bias: Tensor | None) -> PackedLinear:
    """An output layer y = x W^T + b packed as W^T contiguous, for :func:`linear_step`."""
    return PackedLinear(weight.detach().t().contiguous(), None if bias is None else bias.detach().clone())


def linear_step(x: Tensor, packed: PackedLinear) -> Tensor:
    """y = x W^T + b from the packed layout. x: (B, in) -> (B, out)."""
    if packed.bias is None:
        return x @ packed.weight_t
    return torch.addmm(packed.bias, x, packed.weight_t)


def _mm(bias: Tensor | None, a: Tensor, w: Tensor) -> Tensor:
    return a @ w if bias is None else torch.addmm(bias, a, w)


def packed_step(x: Tensor, state: State, pc: PackedCell) -> State:
    """One step from x (B, D) and the state; the same equations as :mod:`rnnkit.core.cells`."""
    h = state[0]
    H = pc.units
    if pc.kind == "gru":
        xr, xz, xn = _mm(pc.b_ih, x, pc.w_ih_t).split(H, dim=-1)  # type: ignore[arg-type]
        hr, hz, hn = _mm(pc.b_hh, h, pc.w_hh_t).split(H, dim=-1)  # type: ignore[arg-type]
        rec = pc.recurrent_activation
        r, z = rec(xr + hr), rec(xz + hz)
        n = pc.activation(xn + r * hn)
        return (n + z * (h - n),)
    gates = _mm(pc.b_cat, torch.cat([x, h], dim=-1), pc.w_cat)  # type: ignore[arg-type]  # (B, D+H) -> (B, G)
    if pc.kind == "rnn":
        return (pc.activation(gates),)
    i, f, g, o = gates.chunk(4, dim=-1)
    rec = pc.recurrent_activation
    c = rec(f) * state[1] + rec(i) * pc.activation(g)
    return rec(o) * pc.activation(c), c
