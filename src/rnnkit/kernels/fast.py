"""rnnkit's fast kernel: a time loop with hand-written backpropagation through time.

It serves what PyTorch's fused kernels refuse -- masks with any padding (left,
right, holes), recurrent dropout, zoneout, activations other than tanh/sigmoid --
and runs GRU and SimpleRNN faster than ATen's per-step loop on CPU. Layer norm
is left to the reference kernel. The levers (measured in ``bench/``):

- the input projection of all T steps is one GEMM, and b_hh is folded into it
  where the equations allow (SimpleRNN, LSTM);
- the forward loop runs without autograd and writes into preallocated
  time-major buffers (T, B, .), saving only what the backward needs (the
  activated gates and the states);
- the backward loop is written out by hand: per step a few elementwise ops and
  one (B, G) x (G, H) product for dL/dh_{t-1}; the weight gradients are then ONE
  GEMM over all B*T rows (dW_hh = dG^T [h_0 .. h_{T-1}], dW_ih = dG^T x) instead
  of T small ones, which is where the time of autograd's per-step graph goes.

Derivatives are taken from the activation's output (tanh' = 1 - y^2,
sigmoid' = y (1 - y), ...), so only activations in :data:`DERIVATIVES` qualify.

Semantics are exactly the reference kernel's (tested forward and backward over
every flag combination): masked steps carry h and c over; outputs are
``h_t * valid_t`` where valid_t is "a real step has happened" (Keras repeats the
last output, which is the carried h) or ``mask_t`` with ``zero_output_for_mask``.
Shapes: B batch, T time, D input, H units, G gate width.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from rnnkit.core import activations
from rnnkit.core.cells import CellParams, State
from rnnkit.kernels.reference import SequenceOptions, SequenceResult

Tensor = torch.Tensor

# y = f(x) -> f'(x) written in terms of y.
DERIVATIVES: dict[str, Callable[[Tensor], Tensor | float]] = {
    "tanh": lambda y: 1.0 - y * y,
    "sigmoid": lambda y: y * (1.0 - y),
    "relu": lambda y: (y > 0).to(y.dtype),
    "linear": lambda y: 1.0,
    "hard_sigmoid": lambda y: ((y > 0) & (y < 1)).to(y.dtype) / 6.0,
}


def fast_blocker(p: CellParams, opts: SequenceOptions) -> str | None:
    """Why the fast kernel cannot run this configuration, or None if it can."""
    act = activations.name_of(p.activation)
    if act not in DERIVATIVES:
        return f"activation {act or 'a user function'} has no closed-form derivative in the fast kernel"
    rec = activations.name_of(p.recurrent_activation)
    if p.kind != "rnn" and rec not in DERIVATIVES:
        what = rec or "a user function"
        return f"recurrent_activation {what} has no closed-form derivative in the fast kernel"
    if p.layer_norm is not None:
        return "layer_norm=True"
    if p.kind == "gru" and not p.reset_after:
        return "reset_after=False"
    return None


def run_fast(p: CellParams, x: Tensor, state0: State, opts: SequenceOptions) -> SequenceResult:
    """Run cell ``p`` over x (B, T, D) with the hand-written BPTT kernel."""
    xs = x.flip(1) if opts.go_backwards else x  # processing order
    mask = None if opts.mask is None else (opts.mask.flip(1) if opts.go_backwards else opts.mask)
    valid = None
    if mask is not None:
        # Which outputs show the state: after the first real step (Keras carries the last
        # output, which is the carried h), or only at real steps (zero_output_for_mask).
        valid = mask if opts.zero_output_for_mask else mask.int().cummax(dim=1).values.bool()
    zone = None
    if opts.zoneout and opts.training:
        # Same draws, in the same order, as the reference kernel: one (B, H) per step.
        B, T, H = x.shape[0], x.shape[1], p.units
        gen = opts.generator
        zone = torch.stack(
            [torch.rand(B, H, device=x.device, dtype=x.dtype, generator=gen) < opts.zoneout for _ in range(T)]
        )  # (T, B, H)
    c0 = state0[1] if p.kind == "lstm" else None
    outs, h_n, c_n = _FastRNN.apply(
        p.kind,
        activations.name_of(p.activation),
        activations.name_of(p.recurrent_activation),
        xs,
        state0[0],
        c0,
        p.weight_ih,
        p.weight_hh,
        p.bias_ih,
        p.bias_hh,
        mask,
        valid,
        opts.input_dropout_mask,
        opts.recurrent_dropout_mask,
        zone,
        None if opts.training else opts.zoneout,
    )
    states = (h_n, c_n) if p.kind == "lstm" else (h_n,)
    outputs = outs.transpose(0, 1)  # (T, B, H) -> (B, T, H), processing order
    return SequenceResult(outputs[:, -1], outputs if opts.return_sequences else None, states)


def _act(name: str) -> Callable[[Tensor], Tensor]:
    return activations.get(name)


def _hard_sigmoid_(v: Tensor) -> Tensor:
    return torch.nn.functional.hardsigmoid(v, inplace=True)  # relu6(x + 3) / 6, Keras 3's hard_sigmoid


# In-place forms, so activated gates are written straight into the saved buffers.
INPLACE: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh_,
    "sigmoid": torch.sigmoid_,
    "relu": torch.relu_,
    "linear": lambda v: v,
    "hard_sigmoid": _hard_sigmoid_,
}


class _FastRNN(torch.autograd.Function):
    """outputs (T, B, H), h_T, c_T = loop(x); backward written by hand (see the module docstring).

    Saved per step (time-major, contiguous): LSTM the activated gates (T, B, 4H) and
    the cell states (T, B, H); GRU r and z (T, B, 2H), n (T, B, H) and the recurrent
    projection (T, B, 3H) whose n block is h W_hn^T + b_hn; SimpleRNN the new state.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        kind: str,
        act_name: str,
        rec_name: str,
        x: Tensor,
        h0: Tensor,
        c0: Tensor | None,
        w_ih: Tensor,
        w_hh: Tensor,
        b_ih: Tensor | None,
        b_hh: Tensor | None,
        mask: Tensor | None,
        valid: Tensor | None,
        dmask: Tensor | None,
        rmask: Tensor | None,
        zone: Tensor | None,
        zone_rate_eval: float | None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        act, act_, rec_ = _act(act_name), INPLACE[act_name], INPLACE[rec_name]
        B, T, _ = x.shape
        H = w_hh.shape[1]
        xd = x if dmask is None else x * dmask.unsqueeze(1)  # (B, T, D)
        # Fold b_hh into the input projection where it adds before any nonlinearity.
        bias = b_ih
        if b_hh is not None and kind != "gru":
            bias = b_hh if bias is None else bias + b_hh
        xp = torch.matmul(xd.transpose(0, 1), w_ih.t())  # (T, B, D) x (D, G) -> (T, B, G)
        if bias is not None:
            xp += bias
        w_hh_t = w_hh.t()
        m = None if mask is None else mask.t().unsqueeze(-1)  # (B, T) -> (T, B, 1)
        plain = m is None and zone is None and not zone_rate_eval  # h_t is the new value itself
        hs = x.new_empty(T, B, H)  # the carried state after each step
        cs = x.new_empty(T, B, H) if kind == "lstm" else None
        if kind == "lstm":
            saved: tuple[Tensor, ...] = (x.new_empty(T, B, 4 * H),)
        elif kind == "gru":
            saved = (x.new_empty(T, B, 2 * H), x.new_empty(T, B, H), x.new_empty(T, B, 3 * H))
        else:
            saved = (x.new_empty(T, B, H),)
        h, c = h0, c0
        for t in range(T):
            h_in = h if rmask is None else h * rmask
            if kind == "lstm":
                g = torch.addmm(xp[t], h_in, w_hh_t, out=saved[0][t])  # (B, 4H): i, f, g, o
                rec_(g[:, : 2 * H])  # i, f
                act_(g[:, 2 * H : 3 * H])  # g
                rec_(g[:, 3 * H :])  # o
                i_, f_, g_, o_ = g.chunk(4, dim=1)
                c_new = torch.addcmul(f_ * c, i_, g_, out=cs[t] if m is None else None)  # type: ignore[index]
                h_new = torch.mul(o_, act(c_new), out=hs[t] if plain else None)
            elif kind == "gru":
                rz, n, hp = saved[0][t], saved[1][t], saved[2][t]
                if b_hh is not None:
                    torch.addmm(b_hh, h_in, w_hh_t, out=hp)  # (B, 3H): hr, hz, hn
                else:
                    torch.mm(h_in, w_hh_t, out=hp)
                rec_(torch.add(xp[t, :, : 2 * H], hp[:, : 2 * H], out=rz))
                r_, z_ = rz.chunk(2, dim=1)
                act_(torch.addcmul(xp[t, :, 2 * H :], r_, hp[:, 2 * H :], out=n))
                h_new = torch.addcmul(n, z_, h - n, out=hs[t] if plain else None)
            else:
                h_new = act_(torch.addmm(xp[t], h_in, w_hh_t, out=saved[0][t]))
                if plain:
                    hs[t] = h_new
            if zone is not None:
                h_new = torch.where(zone[t], h, h_new)
            elif zone_rate_eval:
                h_new = h_new + zone_rate_eval * (h - h_new)
            if m is not None:
                h_new = torch.where(m[t], h_new, h)
                if kind == "lstm":
                    c_new = torch.where(m[t], c_new, c)
                    cs[t] = c_new  # type: ignore[index]
            if not plain:
                hs[t] = h_new
            h = hs[t]
            if kind == "lstm":
                c = cs[t]  # type: ignore[index]
        outs = hs if valid is None else hs * valid.t().unsqueeze(-1).to(hs.dtype)
        ctx.meta = (kind, act_name, rec_name, zone_rate_eval)
        ctx.save_for_backward(
            xd, h0, c0, w_ih, w_hh, b_ih, b_hh, m, valid, dmask, rmask, zone, hs, cs, *saved
        )
        # autograd.Function outputs must be tensors: an empty one stands for "no cell state".
        return outs, h, (c if c is not None else h.new_empty(0))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, d_outs: Tensor, d_hT: Tensor, d_cT: Tensor) -> tuple[Any, ...]:
        kind, act_name, rec_name, zone_rate_eval = ctx.meta
        xd, h0, c0, w_ih, w_hh, b_ih, b_hh, m, valid, dmask, rmask, zone, hs, cs, *saved = ctx.saved_tensors
        dact, drec = DERIVATIVES[act_name], DERIVATIVES[rec_name]
        act = _act(act_name)
        T, B, H = hs.shape
        if valid is not None:
            d_outs = d_outs * valid.t().unsqueeze(-1).to(d_outs.dtype)
        dh = d_hT.clone()
        dc = None
        if kind == "lstm":
            dc = torch.zeros_like(h0) if d_cT.numel() == 0 else d_cT.clone()
        gx = xd.new_empty(T, B, w_ih.shape[0])  # dL/d(x W_ih^T + b_ih) per step, gates in weight order
        ghn = xd.new_empty(T, B, H) if kind == "gru" else None  # GRU: dL/d(h W_hn^T + b_hn)
        w_rz, w_n = (w_hh[: 2 * H], w_hh[2 * H :]) if kind == "gru" else (w_hh, w_hh)
        for t in range(T - 1, -1, -1):
            dh += d_outs[t]
            h_prev = hs[t - 1] if t > 0 else h0
            # Which units took the new value this step (the rest carried h_{t-1} over).
            take = None
            if m is not None:
                take = m[t]
            if zone is not None:
                take = ~zone[t] if take is None else take & ~zone[t]
            dnew = dh if take is None else dh * take
            dcarry = None if take is None else dh * ~take
            if zone_rate_eval:
                dcarry = zone_rate_eval * dnew if dcarry is None else dcarry + zone_rate_eval * dnew
                dnew = (1.0 - zone_rate_eval) * dnew
            if kind == "lstm":
                c_prev = cs[t - 1] if t > 0 else c0
                gates = saved[0][t]
                i_, f_, g_, o_ = gates.chunk(4, dim=1)
                tc = act(torch.addcmul(f_ * c_prev, i_, g_))  # act(c_new), recomputed
                dc_new = dc if m is None else dc * m[t]
                dc_new = torch.addcmul(dc_new, dnew * o_, dact(tc))
                gi, gf, gg, go = gx[t].chunk(4, dim=1)
                torch.mul(dc_new * g_, drec(i_), out=gi)
                torch.mul(dc_new * c_prev, drec(f_), out=gf)
                torch.mul(dc_new * i_, dact(g_), out=gg)
                torch.mul(dnew * tc, drec(o_), out=go)
                dc = dc_new * f_ if m is None else torch.addcmul(dc * ~m[t], dc_new, f_)
                dh_in = gx[t] @ w_hh  # (B, 4H) x (4H, H) -> (B, H)
            elif kind == "gru":
                r_, z_ = saved[0][t].chunk(2, dim=1)
                n_, hn_ = saved[1][t], saved[2][t, :, 2 * H :]
                gr, gz, gn = gx[t].chunk(3, dim=1)
                torch.mul(dnew * (1.0 - z_), dact(n_), out=gn)
                torch.mul(gn * hn_, drec(r_), out=gr)
                torch.mul(dnew * (h_prev - n_), drec(z_), out=gz)
                torch.mul(gn, r_, out=ghn[t])  # type: ignore[index]
                dcarry = dnew * z_ if dcarry is None else torch.addcmul(dcarry, dnew, z_)
                # (B, 2H) x (2H, H) + (B, H) x (H, H) -> (B, H)
                dh_in = torch.addmm(ghn[t] @ w_n, gx[t, :, : 2 * H], w_rz)  # type: ignore[index]
            else:
                torch.mul(dnew, dact(saved[0][t]), out=gx[t])
                dh_in = gx[t] @ w_hh
            if rmask is not None:
                dh_in = dh_in * rmask
            dh = dh_in if dcarry is None else dh_in + dcarry

        # The weight gradients: one GEMM each over all T*B rows.
        h_prev_all = torch.cat([h0.unsqueeze(0), hs[:-1]]).reshape(T * B, H)  # h_0 .. h_{T-1}
        if rmask is not None:
            h_prev_all = (h_prev_all.reshape(T, B, H) * rmask).reshape(T * B, H)
        gx2 = gx.reshape(T * B, -1)
        if kind == "gru":
            ghn2 = ghn.reshape(T * B, H)  # type: ignore[union-attr]
            d_w_hh = torch.cat([gx2[:, : 2 * H].t() @ h_prev_all, ghn2.t() @ h_prev_all])
            d_b_hh = None if b_hh is None else torch.cat([gx2[:, : 2 * H].sum(0), ghn2.sum(0)])
        else:
            d_w_hh = gx2.t() @ h_prev_all
            d_b_hh = None if b_hh is None else gx2.sum(0)
        d_w_ih = gx2.t() @ xd.transpose(0, 1).reshape(T * B, -1)  # (G, T*B) x (T*B, D)
        d_b_ih = None if b_ih is None else gx2.sum(0)
        dx = (gx2 @ w_ih).reshape(T, B, -1).transpose(0, 1)  # (T*B, D) -> (B, T, D)
        if dmask is not None:
            dx = dx * dmask.unsqueeze(1)
        return (
            None, None, None,
            dx, dh, dc, d_w_ih, d_w_hh, d_b_ih, d_b_hh,
            None, None, None, None, None, None,
        )  # fmt: skip
