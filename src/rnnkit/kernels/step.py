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

``int8=True`` stores each product's weight as int8 with one scale per output row
(symmetric, per-channel) and runs it with fbgemm's dynamic-quantized linear, which
quantizes the activations per call: a quarter of the bytes to read per step, so a
memory-bound step runs ~4x faster (2 x 512 + 10k words, 1 thread: 1.52 -> 0.33 ms,
``bench/results/suggest-latency*.json``); the error is measured as PTB perplexity in
``bench/results/suggest-int8-quality.json`` (+0.07%). It needs PyTorch's x86 quantized engine.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from rnnkit.core.cells import CellParams, State
from rnnkit.errors import KernelError

Tensor = torch.Tensor


def _prepack_int8(w_t: Tensor, bias: Tensor | None) -> Any:
    """fbgemm's packed int8 weight for x @ w_t (+ bias); w_t: (in, out)."""
    if "fbgemm" not in torch.backends.quantized.supported_engines and (
        "x86" not in torch.backends.quantized.supported_engines
    ):
        raise KernelError(
            "int8 decoding needs PyTorch's x86 quantized engine (fbgemm); this build supports "
            f"{torch.backends.quantized.supported_engines}. Use int8=False."
        )
    w = w_t.t().contiguous()  # (out, in)
    scales = (w.abs().amax(dim=1) / 127.0).clamp_min(1e-12).double()
    zeros = torch.zeros(w.shape[0], dtype=torch.long)
    with warnings.catch_warnings():  # quantized tensor constructors warn of a future removal
        warnings.simplefilter("ignore")
        qw = torch.quantize_per_channel(w, scales, zeros, axis=0, dtype=torch.qint8)
        return torch.ops.quantized.linear_prepack(qw, bias)


def _qmm(packed: Any, x: Tensor) -> Tensor:
    # reduce_range: activations in 7 bits, as fbgemm needs on CPUs without VNNI to avoid overflow.
    return torch.ops.quantized.linear_dynamic(x, packed, True)


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
    # int8: fbgemm-packed [x, h] product (rnn, lstm) or the two GRU products, biases inside.
    q_cat: Any = None
    q_ih: Any = None
    q_hh: Any = None


@dataclass(frozen=True)
class PackedLinear:
    weight_t: Tensor  # (in, out) contiguous
    bias: Tensor | None
    q: Any = None  # int8: fbgemm-packed weight and bias


def _sum(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    if a is None:
        return b
    return a if b is None else a + b


@torch.no_grad()
def pack_cell(p: CellParams, int8: bool = False) -> PackedCell | None:
    """Pack a cell's (detached) weights for :func:`packed_step`; None if the cell cannot be packed."""
    if p.layer_norm is not None or (p.kind == "gru" and not p.reset_after):
        return None
    packed = _pack_cell_fp32(p)
    if not int8:
        return packed
    if packed.kind == "gru":
        return dataclasses.replace(
            packed,
            q_ih=_prepack_int8(packed.w_ih_t, packed.b_ih),  # type: ignore[arg-type]
            q_hh=_prepack_int8(packed.w_hh_t, packed.b_hh),  # type: ignore[arg-type]
        )
    return dataclasses.replace(packed, q_cat=_prepack_int8(packed.w_cat, packed.b_cat))  # type: ignore[arg-type]


def _pack_cell_fp32(p: CellParams) -> PackedCell:
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
def pack_linear(weight: Tensor, bias: Tensor | None, int8: bool = False) -> PackedLinear:
    """An output layer y = x W^T + b packed as W^T contiguous, for :func:`linear_step`."""
    packed = PackedLinear(weight.detach().t().contiguous(), None if bias is None else bias.detach().clone())
    if int8:
        packed = dataclasses.replace(packed, q=_prepack_int8(packed.weight_t, packed.bias))
    return packed


def linear_step(x: Tensor, packed: PackedLinear) -> Tensor:
    """y = x W^T + b from the packed layout. x: (B, in) -> (B, out)."""
    if packed.q is not None:
        return _qmm(packed.q, x)
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
        xp = _mm(pc.b_ih, x, pc.w_ih_t) if pc.q_ih is None else _qmm(pc.q_ih, x)  # type: ignore[arg-type]
        hp = _mm(pc.b_hh, h, pc.w_hh_t) if pc.q_hh is None else _qmm(pc.q_hh, h)  # type: ignore[arg-type]
        xr, xz, xn = xp.split(H, dim=-1)
        hr, hz, hn = hp.split(H, dim=-1)
        rec = pc.recurrent_activation
        r, z = rec(xr + hr), rec(xz + hz)
        n = pc.activation(xn + r * hn)
        return (n + z * (h - n),)
    xh = torch.cat([x, h], dim=-1)  # (B, D+H)
    gates = _mm(pc.b_cat, xh, pc.w_cat) if pc.q_cat is None else _qmm(pc.q_cat, xh)  # type: ignore[arg-type]
    if pc.kind == "rnn":
        return (pc.activation(gates),)
    i, f, g, o = gates.chunk(4, dim=-1)
    rec = pc.recurrent_activation
    c = rec(f) * state[1] + rec(i) * pc.activation(g)
    return rec(o) * pc.activation(c), c
