"""rnnkit's fast kernel: a time loop with hand-written backpropagation through time.

It serves what PyTorch's fused kernels refuse -- masks with any padding (left,
right, holes), recurrent dropout, zoneout, layer norm, GRU ``reset_after=False``,
activations other than tanh/sigmoid -- and runs GRU and SimpleRNN without ATen's
per-step autograd graph. The levers (measured in ``bench/``):

- the input projection xp = x W_ih^T + b_ih (+ its layer norm) of all T steps is
  one GEMM outside the loop, left to autograd, whose backward is again one GEMM
  over all B*T rows; b_hh is folded into it wherever it adds before a nonlinearity;
- the forward loop runs without autograd and writes into preallocated time-major
  buffers (T, B, .), saving only what the backward needs;
- the backward loop is written out by hand: per step a few elementwise ops and one
  (B, G) x (G, H) product for dL/dh_{t-1}; dW_hh is then ONE GEMM over all B*T rows,
  dW_hh = dG^T [h_0 .. h_{T-1}], instead of T small ones.

Derivatives come from each activation's output (tanh' = 1 - y^2, sigmoid' = y (1 - y),
...), so only activations in :data:`DERIVATIVES` qualify. Layer norm's backward::

    y = xhat * gamma + beta,  xhat = (v - mean) * rstd
    dv = rstd * (dyg - mean(dyg) - xhat * mean(dyg * xhat)),  dyg = dy * gamma

Semantics are exactly the reference kernel's (tested forward and backward over every
flag combination): masked steps carry h and c over; outputs are h_t * valid_t, with
valid_t = "a real step has happened" (Keras repeats the last output, the carried h)
or mask_t under ``zero_output_for_mask``. Shapes: B batch, T time, D input, H units,
G gate width.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from rnnkit.core import activations
from rnnkit.core.cells import LN_EPS, CellParams, State, input_projection
from rnnkit.kernels import native
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

# In-place forms, so activated gates are written straight into the saved buffers.
INPLACE: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh_,
    "sigmoid": torch.sigmoid_,
    "relu": torch.relu_,
    "linear": lambda v: v,
    "hard_sigmoid": lambda v: F.hardsigmoid(v, inplace=True),  # relu6(x + 3) / 6, Keras 3's
}


def fast_blocker(p: CellParams, opts: SequenceOptions) -> str | None:
    """Why the fast kernel cannot run this configuration, or None if it can."""
    if torch.is_autocast_enabled("cpu") or torch.is_autocast_enabled("cuda"):
        # its hand-written backward keeps float32 buffers; autocast hands it bf16/fp16 products
        return "autocast (mixed precision): the reference loop runs under autocast"
    act = activations.name_of(p.activation)
    if act not in DERIVATIVES:
        return f"activation {act or 'a user function'} has no closed-form derivative in the fast kernel"
    rec = activations.name_of(p.recurrent_activation)
    if p.kind != "rnn" and rec not in DERIVATIVES:
        what = rec or "a user function"
        return f"recurrent_activation {what} has no closed-form derivative in the fast kernel"
    return None


def fast_loop(p: CellParams, x: Tensor, opts: SequenceOptions) -> str:
    """Which loop :func:`run_fast` takes: "cpp" (:mod:`rnnkit.kernels.native`) or "python"."""
    if native.native_blocker(p, x, opts.zoneout) is None and native.available():
        return "cpp"
    return "python"


def run_fast(p: CellParams, x: Tensor, state0: State, opts: SequenceOptions) -> SequenceResult:
    """Run cell ``p`` over x (B, T, D) with the hand-written BPTT kernel (C++ loop when it can)."""
    xs = x.flip(1) if opts.go_backwards else x  # processing order
    mask = None if opts.mask is None else (opts.mask.flip(1) if opts.go_backwards else opts.mask)
    if opts.input_dropout_mask is not None:
        xs = xs * opts.input_dropout_mask.unsqueeze(1)  # (B, D) -> (B, 1, D): one mask for every step
    # Time-major from the start: (B, T, D) -> (T, B, D) costs a copy of x, not of the wider xp.
    # b_hh adds before any nonlinearity except inside the GRU's r * (h W_hn^T + b_hn); where
    # it does, it joins the input projection's bias.
    b_inside = p.bias_hh if (p.kind == "gru" and p.reset_after) else None
    b_folded = p.bias_hh if b_inside is None else None
    xp = input_projection(xs.transpose(0, 1), p, b_folded)  # (T, B, G), with autograd
    valid = None
    if mask is not None:
        valid = mask if opts.zero_output_for_mask else mask.int().cummax(dim=1).values.bool()
    B, T, H = x.shape[0], x.shape[1], p.units
    zone = None
    if opts.zoneout and opts.training:
        # The same draws, in the same order, as the reference kernel: one (B, H) per step.
        gen = opts.generator
        zone = torch.stack(
            [torch.rand(B, H, device=x.device, dtype=x.dtype, generator=gen) < opts.zoneout for _ in range(T)]
        )  # (T, B, H)
    ln = p.layer_norm
    # What both loops take after their first argument: xp, the state, W_hh, b_hh inside the
    # GRU's n gate, the four layer-norm gains, the masks.
    common = (
        xp.contiguous(),
        state0[0],
        state0[1] if p.kind == "lstm" else None,
        p.weight_hh,
        b_inside,
        *((None,) * 4 if ln is None else (ln.hh_weight, ln.hh_bias, ln.cell_weight, ln.cell_bias)),
        mask,
        valid,
        opts.recurrent_dropout_mask,
    )
    if fast_loop(p, x, opts) == "cpp":
        outs, h_n, c_n = native.NativeRNN.apply(p.kind, *common)
    else:
        meta = (
            p.kind,
            activations.name_of(p.activation),
            activations.name_of(p.recurrent_activation),
            p.reset_after,
        )
        outs, h_n, c_n = _FastRNN.apply(meta, *common, zone, None if opts.training else opts.zoneout)
    states = (h_n, c_n) if p.kind == "lstm" else (h_n,)
    outputs = outs.transpose(0, 1)  # (T, B, H) -> (B, T, H), processing order
    return SequenceResult(outputs[:, -1], outputs if opts.return_sequences else None, states)


def _ln_forward(v: Tensor, w: Tensor, b: Tensor, xhat_out: Tensor, rstd_out: Tensor) -> Tensor:
    """y = LN(v) * w + b; writes xhat and rstd (for the backward) into the given buffers."""
    var, mean = torch.var_mean(v, dim=-1, keepdim=True, correction=0)
    torch.rsqrt(var + LN_EPS, out=rstd_out)
    torch.mul(v - mean, rstd_out, out=xhat_out)
    return torch.addcmul(b, xhat_out, w)


def _ln_backward(dy: Tensor, xhat: Tensor, rstd: Tensor, w: Tensor) -> Tensor:
    dyg = dy * w
    return rstd * (dyg - dyg.mean(-1, keepdim=True) - xhat * (dyg * xhat).mean(-1, keepdim=True))


class _FastRNN(torch.autograd.Function):
    """outputs (T, B, H), h_T, c_T = loop(xp); backward written by hand (see the module docstring).

    Saved per step (time-major): LSTM the activated gates (T, B, 4H) and the cell states;
    GRU r and z (T, B, 2H), n and the recurrent n-term (reset_after: h W_hn^T + b_hn;
    otherwise r * h_in, the input of W_hn); SimpleRNN the new state; with layer norm
    the normalized values and 1/std of each norm.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        meta: tuple[str, str, str, bool],
        xp: Tensor,
        h0: Tensor,
        c0: Tensor | None,
        w_hh: Tensor,
        b_hh: Tensor | None,
        ln_w: Tensor | None,
        ln_b: Tensor | None,
        lnc_w: Tensor | None,
        lnc_b: Tensor | None,
        mask: Tensor | None,
        valid: Tensor | None,
        rmask: Tensor | None,
        zone: Tensor | None,
        zone_rate_eval: float | None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        kind, act_name, rec_name, reset_after = meta
        act, act_, rec_ = activations.get(act_name), INPLACE[act_name], INPLACE[rec_name]
        T, B, G = xp.shape
        H = w_hh.shape[1]
        w_hh_t = w_hh.t()
        w_rz_t, w_n_t = w_hh[: 2 * H].t(), w_hh[2 * H :].t()
        m = None if mask is None else mask.t().unsqueeze(-1)  # (B, T) -> (T, B, 1)
        plain = m is None and zone is None and not zone_rate_eval  # h_t is the new value itself
        new = xp.new_empty
        hs = new(T, B, H)  # the carried state after each step
        cs = new(T, B, H) if kind == "lstm" else None
        ln_hh = ln_w is not None
        gw = G if reset_after or kind != "gru" else 2 * H  # width of the normalized recurrent term
        xhat, rstd = (new(T, B, gw), new(T, B, 1)) if ln_hh else (None, None)
        xhat_c, rstd_c = (new(T, B, H), new(T, B, 1)) if lnc_w is not None else (None, None)
        if kind == "lstm":
            saved: tuple[Tensor, ...] = (new(T, B, 4 * H),)
        elif kind == "gru":
            saved = (new(T, B, 2 * H), new(T, B, H), new(T, B, 3 * H if reset_after else H))
        else:
            saved = (new(T, B, H),)
        h, c = h0, c0
        for t in range(T):
            h_in = h if rmask is None else h * rmask
            if kind == "gru" and not reset_after:
                rz, n, rh = saved[0][t], saved[1][t], saved[2][t]
                rec_(torch.addmm(xp[t, :, : 2 * H], h_in, w_rz_t, out=rz))
                r_, z_ = rz.chunk(2, dim=1)
                torch.mul(r_, h_in, out=rh)
                act_(torch.addmm(xp[t, :, 2 * H :], rh, w_n_t, out=n))
                h_new = torch.addcmul(n, z_, h - n, out=hs[t] if plain else None)
            elif kind == "gru":
                rz, n, hp = saved[0][t], saved[1][t], saved[2][t]
                if ln_hh:
                    hw = _ln_forward(h_in @ w_hh_t, ln_w, ln_b, xhat[t], rstd[t])  # type: ignore[arg-type,index]
                    torch.add(hw, b_hh, out=hp) if b_hh is not None else hp.copy_(hw)
                elif b_hh is not None:
                    torch.addmm(b_hh, h_in, w_hh_t, out=hp)  # (B, 3H): hr, hz, hn
                else:
                    torch.mm(h_in, w_hh_t, out=hp)
                rec_(torch.add(xp[t, :, : 2 * H], hp[:, : 2 * H], out=rz))
                r_, z_ = rz.chunk(2, dim=1)
                act_(torch.addcmul(xp[t, :, 2 * H :], r_, hp[:, 2 * H :], out=n))
                h_new = torch.addcmul(n, z_, h - n, out=hs[t] if plain else None)
            else:
                out = saved[0][t]
                if ln_hh:
                    torch.add(xp[t], _ln_forward(h_in @ w_hh_t, ln_w, ln_b, xhat[t], rstd[t]), out=out)  # type: ignore[arg-type,index]
                else:
                    torch.addmm(xp[t], h_in, w_hh_t, out=out)
                if kind == "lstm":
                    rec_(out[:, : 2 * H])  # i, f
                    act_(out[:, 2 * H : 3 * H])  # g
                    rec_(out[:, 3 * H :])  # o
                    i_, f_, g_, o_ = out.chunk(4, dim=1)
                    c_new = torch.addcmul(f_ * c, i_, g_, out=cs[t] if m is None else None)  # type: ignore[index]
                    c_out = c_new if lnc_w is None else _ln_forward(c_new, lnc_w, lnc_b, xhat_c[t], rstd_c[t])  # type: ignore[arg-type,index]
                    h_new = torch.mul(o_, act(c_out), out=hs[t] if plain else None)
                else:
                    h_new = act_(out)
                    if plain:
                        hs[t] = h_new
            if zone is not None:
                h_new = torch.where(zone[t], h, h_new)
            elif zone_rate_eval:
                h_new = h_new + zone_rate_eval * (h - h_new)
            if m is not None:
                h_new = torch.where(m[t], h_new, h)
                if kind == "lstm":
                    cs[t] = torch.where(m[t], c_new, c)  # type: ignore[index]
            if not plain:
                hs[t] = h_new
            h = hs[t]
            if kind == "lstm":
                c = cs[t]  # type: ignore[index]
        outs = hs if valid is None else hs * valid.t().unsqueeze(-1).to(hs.dtype)
        ctx.meta = (*meta, zone_rate_eval)
        ctx.save_for_backward(
            h0,
            c0,
            w_hh,
            b_hh,
            ln_w,
            lnc_w,
            lnc_b,
            m,
            valid,
            rmask,
            zone,
            hs,
            cs,
            xhat,
            rstd,
            xhat_c,
            rstd_c,
            *saved,
        )
        # autograd.Function outputs must be tensors: an empty one stands for "no cell state".
        return outs, h, (c if c is not None else h.new_empty(0))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, d_outs: Tensor, d_hT: Tensor, d_cT: Tensor) -> tuple[Any, ...]:
        kind, act_name, rec_name, reset_after, zone_rate_eval = ctx.meta
        (
            h0,
            c0,
            w_hh,
            b_hh,
            ln_w,
            lnc_w,
            lnc_b,
            m,
            valid,
            rmask,
            zone,
            hs,
            cs,
            xhat,
            rstd,
            xhat_c,
            rstd_c,
            *saved,
        ) = ctx.saved_tensors
        dact, drec = DERIVATIVES[act_name], DERIVATIVES[rec_name]
        act = activations.get(act_name)
        T, B, H = hs.shape
        G = w_hh.shape[0]
        if valid is not None:
            d_outs = d_outs * valid.t().unsqueeze(-1).to(d_outs.dtype)
        dh = d_hT.clone()
        dc = None
        if kind == "lstm":
            dc = torch.zeros_like(h0) if d_cT.numel() == 0 else d_cT.clone()
        gx = hs.new_empty(T, B, G)  # dL/dxp per step, gates in weight order
        ln_hh = ln_w is not None
        split_gru = kind == "gru"
        # dL/d(the recurrent product h_in W_hh^T) per step, when it differs from gx.
        gh = hs.new_empty(T, B, G) if (ln_hh or split_gru) else gx
        d_hp = hs.new_empty(T, B, G) if ln_hh else None  # dL/d(LN output), for the LN gains
        d_lnc_w = torch.zeros_like(lnc_w) if lnc_w is not None else None
        d_lnc_b = torch.zeros_like(lnc_w) if lnc_w is not None else None
        w_rz, w_n = w_hh[: 2 * H], w_hh[2 * H :]
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
                i_, f_, g_, o_ = saved[0][t].chunk(4, dim=1)
                c_new = torch.addcmul(f_ * c_prev, i_, g_)  # recomputed: cheaper than saving it
                if lnc_w is None:
                    tc = act(c_new)
                    dc_new = torch.addcmul(dc if m is None else dc * m[t], dnew * o_, dact(tc))
                else:
                    tc = act(torch.addcmul(lnc_b, xhat_c[t], lnc_w))  # act(LN(c_new))
                    d_cout = dnew * o_ * dact(tc)
                    d_lnc_w += (d_cout * xhat_c[t]).sum(0)  # type: ignore[operator]
                    d_lnc_b += d_cout.sum(0)  # type: ignore[operator]
                    dc_new = (dc if m is None else dc * m[t]) + _ln_backward(
                        d_cout, xhat_c[t], rstd_c[t], lnc_w
                    )
                gi, gf, gg, go = gx[t].chunk(4, dim=1)
                torch.mul(dc_new * g_, drec(i_), out=gi)
                torch.mul(dc_new * c_prev, drec(f_), out=gf)
                torch.mul(dc_new * i_, dact(g_), out=gg)
                torch.mul(dnew * tc, drec(o_), out=go)
                dc = dc_new * f_ if m is None else torch.addcmul(dc * ~m[t], dc_new, f_)
            elif kind == "gru":
                r_, z_ = saved[0][t].chunk(2, dim=1)
                n_ = saved[1][t]
                gr, gz, gn = gx[t].chunk(3, dim=1)
                torch.mul(dnew * (1.0 - z_), dact(n_), out=gn)
                torch.mul(dnew * (h_prev - n_), drec(z_), out=gz)
                hr, hz, hn = gh[t].chunk(3, dim=1)
                if reset_after:
                    torch.mul(gn * saved[2][t, :, 2 * H :], drec(r_), out=gr)
                    torch.mul(gn, r_, out=hn)
                else:
                    h_in = h_prev if rmask is None else h_prev * rmask
                    d_rh = gn @ w_n  # (B, H) x (H, H): through n = act(xn + (r * h_in) W_hn^T)
                    torch.mul(d_rh * h_in, drec(r_), out=gr)
                    hn.copy_(gn)
                hr.copy_(gr)
                hz.copy_(gz)
                dcarry = dnew * z_ if dcarry is None else torch.addcmul(dcarry, dnew, z_)
            else:
                torch.mul(dnew, dact(saved[0][t]), out=gx[t])
            if ln_hh:
                src = gx[t] if kind != "gru" else gh[t]
                d_hp[t] = src  # type: ignore[index]
                gh[t] = _ln_backward(src, xhat[t], rstd[t], ln_w)  # type: ignore[index]
            if kind == "gru" and not reset_after:
                # (B, 2H) x (2H, H) for r, z; the n term reaches h_in through r * h_in.
                dh_in = torch.addmm(d_rh * r_, gh[t, :, : 2 * H], w_rz)
            else:
                dh_in = gh[t] @ w_hh  # (B, G) x (G, H) -> (B, H)
            if rmask is not None:
                dh_in = dh_in * rmask
            dh = dh_in if dcarry is None else dh_in + dcarry

        # The recurrent weight gradient: one GEMM over all T*B rows.
        h_prev_all = torch.cat([h0.unsqueeze(0), hs[:-1]])  # (T, B, H): h_0 .. h_{T-1}
        if rmask is not None:
            h_prev_all = h_prev_all * rmask
        h_prev_all = h_prev_all.reshape(T * B, H)
        gh2 = gh.reshape(T * B, G)
        if kind == "gru" and not reset_after:
            rh_all = saved[2].reshape(T * B, H)  # r * h_in: the input of W_hn
            d_w_hh = torch.cat([gh2[:, : 2 * H].t() @ h_prev_all, gh2[:, 2 * H :].t() @ rh_all])
        else:
            d_w_hh = gh2.t() @ h_prev_all
        d_b_hh = None
        if b_hh is not None:
            d_b_hh = (d_hp if ln_hh else gh).reshape(T * B, G).sum(0)  # type: ignore[union-attr]
        d_ln_w = d_ln_b = None
        if ln_hh:
            dhp2 = d_hp.reshape(T * B, G)  # type: ignore[union-attr]
            d_ln_w = (dhp2 * xhat.reshape(T * B, -1)).sum(0)  # type: ignore[union-attr]
            d_ln_b = dhp2.sum(0)
        return (
            None, gx, dh, dc, d_w_hh, d_b_hh, d_ln_w, d_ln_b, d_lnc_w, d_lnc_b,
            None, None, None, None, None,
        )  # fmt: skip
