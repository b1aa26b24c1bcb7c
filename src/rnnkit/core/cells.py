"""Cell equations of SimpleRNN, LSTM and GRU: one time step, as pure functions.

Shapes: B batch, D input features, H units, G gate width (H, 4H or 3H).
Weights are laid out as PyTorch's: ``weight_ih (G, D)``, ``weight_hh (G, H)``,
``bias_ih (G,)``, ``bias_hh (G,)``; LSTM gates in the order i, f, g, o and GRU
gates r, z, n, so ``torch.nn`` weights copy over unchanged.

The input projection ``xp_t = x_t W_ih^T + b_ih`` does not depend on the state,
so kernels compute it for all steps at once (:func:`input_projection`) and each
step function takes ``xp_t``:

SimpleRNN::

    h_t = act(xp_t + h_{t-1} W_hh^T + b_hh)

LSTM (Hochreiter & Schmidhuber 1997; act = tanh, rec = sigmoid by default)::

    i, f, g, o = split(xp_t + h_{t-1} W_hh^T + b_hh)
    i, f, o = rec(i), rec(f), rec(o);  g = act(g)
    c_t = f * c_{t-1} + i * g
    h_t = o * act(c_t)

GRU, ``reset_after=True`` (Cho et al. 2014 as in cuDNN/PyTorch/Keras default)::

    r = rec(xp_r + h W_hr^T + b_hr);  z = rec(xp_z + h W_hz^T + b_hz)
    n = act(xp_n + r * (h W_hn^T + b_hn))
    h_t = z * h_{t-1} + (1 - z) * n

GRU, ``reset_after=False`` (the paper's, Keras 2's): ``n = act(xp_n + (r * h) W_hn^T + b_hn)``.

Two extras: ``layer_norm`` (Ba et al. 2016, in the form of haste's LayerNormLSTM:
normalize the input and recurrent projections separately, and the LSTM cell
state before the output activation) and zoneout (Krueger et al. 2016), which the
kernels apply on top of these steps.

``h_in`` is the state that feeds the recurrent matrix product; it differs from
``h`` only under recurrent dropout (Gal & Ghahramani 2016), which drops units
of ``h`` going into ``W_hh`` but not the carried state itself (as Keras does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Tensor = torch.Tensor
State = tuple[Tensor, ...]

LN_EPS = 1e-5


@dataclass(frozen=True)
class LayerNormParams:
    """Gains and biases of the three layer norms: input (G), recurrent (G), cell (H, LSTM)."""

    ih_weight: Tensor
    ih_bias: Tensor
    hh_weight: Tensor
    hh_bias: Tensor
    cell_weight: Tensor | None = None
    cell_bias: Tensor | None = None


@dataclass(frozen=True)
class CellParams:
    """Everything one step needs: the kind, the weights and the activations."""

    kind: str  # "rnn" | "lstm" | "gru"
    weight_ih: Tensor
    weight_hh: Tensor
    bias_ih: Tensor | None
    bias_hh: Tensor | None
    activation: Callable[[Tensor], Tensor]
    recurrent_activation: Callable[[Tensor], Tensor] = torch.sigmoid
    reset_after: bool = True
    layer_norm: LayerNormParams | None = None

    @property
    def units(self) -> int:
        return int(self.weight_hh.shape[1])


def _ln(v: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return F.layer_norm(v, (v.shape[-1],), w, b, LN_EPS)


def input_projection(x: Tensor, p: CellParams, extra_bias: Tensor | None = None) -> Tensor:
    """xp = x W_ih^T + b_ih (+ extra_bias), layer-normalized first if enabled; (..., D) -> (..., G).

    ``extra_bias`` is a bias a kernel folds in from later (b_hh, when it adds before any
    nonlinearity). Each bias joins the matrix product's own bias, or the layer norm's shift:
    the (T, B, G) result is written once instead of once per addition.
    """
    bias = p.bias_ih
    if extra_bias is not None:
        bias = extra_bias if bias is None else bias + extra_bias
    if p.layer_norm is None:
        return F.linear(x, p.weight_ih, bias)
    shift = p.layer_norm.ih_bias if bias is None else p.layer_norm.ih_bias + bias
    return _ln(F.linear(x, p.weight_ih), p.layer_norm.ih_weight, shift)


def _recurrent_projection(h_in: Tensor, p: CellParams, weight: Tensor, bias: Tensor | None) -> Tensor:
    if p.layer_norm is None:
        return F.linear(h_in, weight, bias)
    hp = _ln(F.linear(h_in, weight), p.layer_norm.hh_weight, p.layer_norm.hh_bias)
    return hp if bias is None else hp + bias


def rnn_step(xp_t: Tensor, state: State, p: CellParams, h_in: Tensor | None = None) -> State:
    """h_t = act(xp_t + h_{t-1} W_hh^T + b_hh). State: (h,)."""
    (h,) = state
    h_in = h if h_in is None else h_in
    return (p.activation(xp_t + _recurrent_projection(h_in, p, p.weight_hh, p.bias_hh)),)


def lstm_step(xp_t: Tensor, state: State, p: CellParams, h_in: Tensor | None = None) -> State:
    """One LSTM step, gates i, f, g, o. State: (h, c)."""
    h, c = state
    h_in = h if h_in is None else h_in
    gates = xp_t + _recurrent_projection(h_in, p, p.weight_hh, p.bias_hh)
    i, f, g, o = gates.chunk(4, dim=-1)
    rec = p.recurrent_activation
    c = rec(f) * c + rec(i) * p.activation(g)
    ln = p.layer_norm
    c_out = c if ln is None or ln.cell_weight is None else _ln(c, ln.cell_weight, ln.cell_bias)  # type: ignore[arg-type]
    return rec(o) * p.activation(c_out), c


def gru_step(xp_t: Tensor, state: State, p: CellParams, h_in: Tensor | None = None) -> State:
    """One GRU step, gates r, z, n. State: (h,)."""
    (h,) = state
    h_in = h if h_in is None else h_in
    H = p.units
    xr, xz, xn = xp_t.split(H, dim=-1)
    rec = p.recurrent_activation
    if p.reset_after:
        hr, hz, hn = _recurrent_projection(h_in, p, p.weight_hh, p.bias_hh).split(H, dim=-1)
        r, z = rec(xr + hr), rec(xz + hz)
        n = p.activation(xn + r * hn)
    else:
        b_rz = None if p.bias_hh is None else p.bias_hh[: 2 * H]
        hr, hz = F.linear(h_in, p.weight_hh[: 2 * H], b_rz).split(H, dim=-1)
        r, z = rec(xr + hr), rec(xz + hz)
        b_n = None if p.bias_hh is None else p.bias_hh[2 * H :]
        n = p.activation(xn + F.linear(r * h_in, p.weight_hh[2 * H :], b_n))
    # z keeps the old state: h_t = z * h + (1 - z) * n, written to need one multiply.
    return (n + z * (h - n),)


STEPS: dict[str, Callable[..., State]] = {"rnn": rnn_step, "lstm": lstm_step, "gru": gru_step}
GATES: dict[str, int] = {"rnn": 1, "lstm": 4, "gru": 3}


def cell_step(x_t: Tensor, state: State, p: CellParams) -> State:
    """A whole step from the raw input x_t (B, D): projection, then the kind's step."""
    return STEPS[p.kind](input_projection(x_t, p), state, p)
