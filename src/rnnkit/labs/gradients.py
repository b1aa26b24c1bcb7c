"""Measure the vanishing (and exploding) gradient: ||dL/dh_t|| and ||dL/dx_t|| against t.

The recurrence of a SimpleRNN is h_t = tanh(W_xh x_t + W_hh h_{t-1} + b), so for a
loss L on the last step (chain rule, Pascanu et al. 2013, eq. 5)::

    dL/dh_t = (dh_T/dh_t)^T dL/dh_T,    dh_T/dh_t = prod_{k=t+1..T} diag(1 - h_k^2) W_hh
    ||dL/dh_t|| <= (max_k ||diag(1 - h_k^2)|| * ||W_hh||_2)^(T - t) ||dL/dh_T||

With ||W_hh||_2 <= 1 and tanh' < 1 the factor is < 1 and the gradient decays
geometrically in T - t; with W_hh scaled up it can grow instead (exploding). The
LSTM's cell state c_t = f_t * c_{t-1} + i_t * g_t has dc_t/dc_{t-1} = diag(f_t) on
its additive path: no weight matrix and no tanh', so with forget gates near 1 the
gradient reaching c_1 is the product of the forget gates, not of T Jacobians.

How the gradient is read (the trap this module avoids): ``retain_grad()`` on the
``return_sequences`` output of a whole-sequence layer gives only the *direct*
gradient of L with respect to each output -- zero before step T when the loss is
on the last step -- because that stacked tensor is a copy of the states, not the
tensors that feed the next step. :func:`gradient_profile` instead unrolls the
layer's own cell one step at a time (Keras's cell contract) and retains the
gradient of each state tensor that step t + 1 actually reads, which is the total
derivative dL/dh_t. ``dL/dx_t`` needs no trick: x_t enters at step t only.

Norms: per sample, ``||dl_b/dh_t||_2`` for the per-sample loss l_b = (y_hat_b - y_b)^2,
then the mean over the batch. Shapes: x (B, T, D), h_t (B, H).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.core import initializers as init_mod
from rnnkit.errors import ConfigError, invalid
from rnnkit.labs.memory import (
    CELLS,
    adding_batch,
    build_model,
    check_cells,
    check_init,
    check_length,
    train_steps,
)
from rnnkit.models.plotting import new_figure, save_png

logger = logging.getLogger(__name__)

Tensor = torch.Tensor

# Gate blocks of weight_hh (PyTorch layout, rows stacked): what each block of H rows is.
GATE_BLOCKS = {"rnn": ("W_hh",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
_TINY = 1e-30  # keeps a ratio finite when a gradient underflows to exactly 0


# ---------------------------------------------------------------- measurement
@dataclass
class GradientProfile:
    """Per-step gradient norms, t = 1..T (index 0 is t = 1)."""

    dh: list[float]  # mean_b ||dl_b/dh_t||
    dx: list[float]  # mean_b ||dl_b/dx_t||
    dc: list[float] | None  # LSTM only: mean_b ||dl_b/dc_t||, the cell-state (carry) path
    loss: float  # mean per-sample loss of the batch measured
    carry: dict[str, float] = field(default_factory=dict)  # mean per-step factor on the memory path

    @property
    def ratio_h(self) -> float:
        """||dL/dh_1|| / ||dL/dh_T||: how much of the last step's gradient reaches the first."""
        return self.dh[0] / max(self.dh[-1], _TINY)

    @property
    def ratio_x(self) -> float:
        return self.dx[0] / max(self.dx[-1], _TINY)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "loss": self.loss,
            "ratio_h1_over_hT": self.ratio_h,
            "ratio_x1_over_xT": self.ratio_x,
            "log10_ratio_h": math.log10(max(self.ratio_h, _TINY)),
            "carry": self.carry,
            "dh_norm": self.dh,
            "dx_norm": self.dx,
        }
        if self.dc is not None:
            out["dc_norm"] = self.dc
            out["ratio_c1_over_cT"] = self.dc[0] / max(self.dc[-1], _TINY)
        return out


def gradient_profile(
    model: nn.Sequential, x: Tensor, y: Tensor, *, dtype: torch.dtype = torch.float64
) -> GradientProfile:
    """||dL/dh_t||, ||dL/dx_t|| (and ||dL/dc_t|| for LSTM) for ``model = [RNN layer, head]``.

    The loss is (head(h_T) - y)^2 summed over the batch (so each sample's gradient
    is its own); the RNN layer's cell is stepped by hand so that each h_t kept is
    the tensor the next step reads (see the module docstring). The measurement
    runs on a copy in ``dtype``: float64 by default, because a gradient that decays
    like 0.5^200 ~ 6e-61 underflows float32 to exactly 0 and the plot would lose it.
    """
    model = copy.deepcopy(model).to(dtype)
    x, y = x.to(dtype), y.to(dtype)
    rnn, head = model[0], model[1]
    cell: Any = rnn.cell
    kind = cell.kind
    B, T = x.shape[:2]
    x = x.detach().clone().requires_grad_(True)  # (B, T, D)
    states = cell.get_initial_state(B)
    hs: list[Tensor] = []
    cs: list[Tensor] = []
    for t in range(T):
        _, states = cell(x[:, t], states)  # (B, H) each
        for s in states:
            s.retain_grad()
        hs.append(states[0])
        if kind == "lstm":
            cs.append(states[1])
    per_sample = ((head(hs[-1]) - y) ** 2).sum(dim=-1)  # (B,)
    per_sample.sum().backward()

    def norms(tensors: Sequence[Tensor]) -> list[float]:
        # a state the loss does not depend on gets no gradient at all: its norm is 0
        return [0.0 if g.grad is None else float(g.grad.norm(dim=-1).mean()) for g in tensors]

    x_grad = x.grad if x.grad is not None else torch.zeros_like(x)
    dx = x_grad.norm(dim=-1).mean(dim=0)  # (T,)
    with torch.no_grad():
        carry = _carry_factors(cell, x.detach(), torch.stack([h.detach() for h in hs], dim=1))
    return GradientProfile(
        dh=norms(hs),
        dx=[float(v) for v in dx],
        dc=norms(cs) if cs else None,
        loss=float(per_sample.detach().mean()),
        carry=carry,
    )


def _carry_factors(cell: Any, x: Tensor, h: Tensor) -> dict[str, float]:
    """The mean per-step factor on each cell's memory path, from the weights and the states seen.

    SimpleRNN: tanh'(a_t) = 1 - h_t^2 (multiplies W_hh in every Jacobian).
    LSTM: the forget gate f_t (dc_t/dc_{t-1} on the additive path). GRU: the update
    gate z_t (h_t = z_t h_{t-1} + (1 - z_t) n_t, PyTorch convention).
    """
    H = cell.units
    h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)  # (B, T, H), h_{t-1}
    if cell.kind == "rnn":
        return {"mean_tanh_derivative": float((1 - h**2).mean())}
    bias_ih = 0 if cell.bias_ih is None else cell.bias_ih
    bias_hh = 0 if cell.bias_hh is None else cell.bias_hh
    gx = x @ cell.weight_ih.T + bias_ih  # (B, T, G*H)
    gh = h_prev @ cell.weight_hh.T + bias_hh  # (B, T, G*H)
    if cell.kind == "lstm":
        f = torch.sigmoid(gx[..., H : 2 * H] + gh[..., H : 2 * H])
        return {"mean_forget_gate": float(f.mean())}
    z = torch.sigmoid(gx[..., H : 2 * H] + gh[..., H : 2 * H])
    return {"mean_update_gate": float(z.mean())}


def recurrent_spectra(rnn: nn.Module) -> dict[str, dict[str, float]]:
    """Spectral radius max|eig| and spectral norm sigma_max of each (H, H) gate block of weight_hh.

    Blocks: SimpleRNN "W_hh"; LSTM "i", "f", "g", "o"; GRU "r", "z", "n" (PyTorch's
    gate order). The norm bounds the per-step growth of the gradient; the radius is
    its long-run rate for a linear recurrence.
    """
    cell: Any = rnn.cell
    w = cell.weight_hh.detach().double()  # (G*H, H)
    H = cell.units
    out: dict[str, dict[str, float]] = {}
    for k, name in enumerate(GATE_BLOCKS[cell.kind]):
        block = w[k * H : (k + 1) * H]  # (H, H)
        out[name] = {
            "spectral_radius": float(torch.linalg.eigvals(block).abs().max()),
            "spectral_norm": float(torch.linalg.matrix_norm(block, ord=2)),
        }
    return out


# ------------------------------------------------------------------ exploding
@dataclass
class ExplodingDemo:
    """A SimpleRNN whose W_hh is scaled up, trained with and without gradient clipping."""

    gain: float
    clipnorm: float
    spectral_radius: float
    grad_norm_at_init: float  # global norm of dL/dtheta before any clipping
    grad_norm_after_clip: float  # the same gradient after clip_grad_norm_(clipnorm)
    runs: dict[str, dict[str, Any]]  # "no_clip" / "clip": per-step grad norms and losses

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def exploding_demo(
    length: int,
    units: int,
    *,
    gain: float = 3.0,
    clipnorm: float = 1.0,
    steps: int = 60,
    learning_rate: float = 0.05,
    batch_size: int = 32,
    seed: int = 0,
) -> ExplodingDemo:
    """Orthogonal W_hh times ``gain`` (spectral radius = gain): the gradient explodes; clipping caps it.

    Plain SGD, so the step is proportional to the gradient (Adam would hide the
    explosion by normalizing it): unclipped, a few huge steps throw the weights
    away; clipped, every step has norm <= ``clipnorm`` * lr.
    """
    if not isinstance(gain, (int, float)) or gain <= 0:
        raise ConfigError(invalid("gain", gain, "a positive number"))
    T = check_length(length)
    x0, y0 = adding_batch(batch_size, T, generator=torch.Generator().manual_seed(seed))
    runs: dict[str, dict[str, Any]] = {}
    first_norm = after = radius = math.nan
    for label, clip in (("no_clip", None), ("clip", clipnorm)):
        model = build_model("simple", units, recurrent_initializer=init_mod.Orthogonal(gain=gain), seed=seed)
        radius = recurrent_spectra(model[0])["W_hh"]["spectral_radius"]
        opt = torch.optim.SGD(model.parameters(), lr=learning_rate)
        gen = torch.Generator().manual_seed(seed + 1)
        norms: list[float] = []
        losses: list[float] = []
        for step in range(steps):
            x, y = (x0, y0) if step == 0 else adding_batch(batch_size, T, generator=gen)
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            # clip_grad_norm_ returns the norm *before* clipping: what would have been applied.
            norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip else math.inf))
            if step == 0 and clip:
                first_norm = norm
                after = float(torch.stack([p.grad.norm() for p in model.parameters()]).norm())  # type: ignore[union-attr]
            norms.append(norm)
            losses.append(float(loss.detach()))
            if not math.isfinite(norm) or not math.isfinite(losses[-1]):
                break
            opt.step()
        runs[label] = {
            "grad_norm": norms,
            "loss": losses,
            "max_grad_norm": max(norms),
            "final_loss": losses[-1],
            "steps": len(norms),
        }
    return ExplodingDemo(float(gain), float(clipnorm), radius, first_norm, after, runs)


# --------------------------------------------------------------------- report
def gradient_report(
    cells: Sequence[str],
    length: int,
    *,
    units: int = 64,
    init: str = "orthogonal",
    batch_size: int = 32,
    train_steps_: int = 0,
    learning_rate: float = 2e-3,
    clipnorm: float = 1.0,
    seed: int = 0,
    explode_gain: float | None = 3.0,
    forget_bias: float | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The numbers of ``rnnkit diagnose gradients``: per cell, profiles at init (and after training).

    The data is the adding problem at length T (the loss on the last step, as the
    task needs). ``train_steps_ > 0`` trains each model that many steps with
    :func:`rnnkit.labs.memory.train_steps` and measures again on the same batch.
    ``forget_bias``: also measure, at initialization, an LSTM whose forget-gate bias
    is this value (Keras starts it at 1, sigmoid(1) = 0.73): the factor on the cell
    path is the forget gate, so opening it keeps the gradient alive with no training.
    """
    names = check_cells(cells)
    T = check_length(length)
    recurrent_init = check_init(init)
    x, y = adding_batch(batch_size, T, generator=torch.Generator().manual_seed(seed + 1))
    report: dict[str, Any] = {
        "config": {
            "cells": names,
            "length": T,
            "units": units,
            "init": init,
            "batch_size": batch_size,
            "train_steps": train_steps_,
            "learning_rate": learning_rate,
            "clipnorm": clipnorm,
            "seed": seed,
            "forget_bias": forget_bias,
            "task": "adding",
            "norm": "mean over the batch of per-sample L2 norms; t = 1..T",
        },
        "cells": {},
    }
    for name in names:
        _notify(on_progress, f"{name}: measuring at initialization")
        model = build_model(name, units, recurrent_initializer=recurrent_init, seed=seed)
        cell: Any = model[0].cell
        entry: dict[str, Any] = {
            "gate_blocks": list(GATE_BLOCKS[cell.kind]),
            "spectra_init": recurrent_spectra(model[0]),
            "init": gradient_profile(model, x, y).to_dict(),
        }
        if train_steps_ > 0:
            _notify(on_progress, f"{name}: training {train_steps_} steps")
            fit = train_steps(
                model,
                "adding",
                T,
                train_steps_,
                learning_rate=learning_rate,
                clipnorm=clipnorm,
                seed=seed,
                eval_size=256,
                eval_every=max(train_steps_ // 5, 1),
            )
            entry["trained"] = gradient_profile(model, x, y).to_dict()
            entry["trained"]["held_out_mse"] = fit.final_loss
            entry["spectra_trained"] = recurrent_spectra(model[0])
        if forget_bias is not None and name == "lstm":
            opened = build_model(name, units, recurrent_initializer=recurrent_init, seed=seed)
            _set_forget_bias(opened[0].cell, forget_bias)
            entry["init_forget_bias"] = gradient_profile(opened, x, y).to_dict()
        report["cells"][name] = entry
    if explode_gain is not None:
        _notify(on_progress, f"exploding: SimpleRNN with W_hh = {explode_gain} x orthogonal")
        report["exploding"] = exploding_demo(
            min(T, 100), units, gain=explode_gain, clipnorm=clipnorm, seed=seed
        ).to_dict()
    return report


@torch.no_grad()
def _set_forget_bias(cell: Any, value: float) -> None:
    """b_ih + b_hh of the forget gate (rows H:2H, gate order i, f, g, o) = ``value``."""
    H = cell.units
    cell.bias_ih[H : 2 * H] = value
    cell.bias_hh[H : 2 * H] = 0.0


def _notify(fn: Callable[[str], None] | None, message: str) -> None:
    logger.info(message)
    if fn is not None:
        fn(message)


def plot_gradient_report(report: dict[str, Any], path: str | Path) -> Path:
    """Log-scale ||dL/dh_t|| against t per cell (init, and trained if present); exploding panel."""
    phases = [p for p in ("init", "trained") if any(p in c for c in report["cells"].values())]
    panels = len(phases) + ("exploding" in report)
    fig = new_figure(5.2 * panels, 4.2, dpi=120)
    axes = fig.subplots(1, panels, squeeze=False)
    T = report["config"]["length"]
    colors = {"simple": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
    for ax, phase in zip(axes[0], phases, strict=False):  # the last axis may be the demo
        for name, entry in report["cells"].items():
            if phase not in entry:
                continue
            prof = entry[phase]
            t = range(1, len(prof["dh_norm"]) + 1)
            c = colors.get(name)
            ax.plot(t, _floor(prof["dh_norm"]), color=c, label=f"{name} dL/dh_t")
            ax.plot(t, _floor(prof["dx_norm"]), color=c, ls=":", label=f"{name} dL/dx_t")
            if "dc_norm" in prof:
                ax.plot(t, _floor(prof["dc_norm"]), color=c, ls="--", label=f"{name} dL/dc_t")
            if phase == "init" and "init_forget_bias" in entry:
                b = report["config"]["forget_bias"]
                opened = entry["init_forget_bias"]["dh_norm"]
                ax.plot(t, _floor(opened), color="tab:purple", label=f"{name}, forget bias {b:g}: dL/dh_t")
        ax.set_yscale("log")
        ax.set_xlabel("t (loss at t = T)")
        ax.set_ylabel("gradient norm")
        steps = report["config"]["train_steps"]
        ax.set_title(f"T = {T}, " + ("at initialization" if phase == "init" else f"after {steps} steps"))
        ax.legend(fontsize=7)
    if "exploding" in report:
        ax = axes[0][-1]
        ex = report["exploding"]
        for label, style in (("no_clip", "tab:red"), ("clip", "tab:blue")):
            run = ex["runs"][label]
            steps, norms = zip(
                *[(i + 1, v) for i, v in enumerate(run["grad_norm"]) if math.isfinite(v)], strict=True
            )
            ax.plot(steps, norms, color=style, label=label)
            if run["steps"] > len(steps):  # the run ended on an inf/NaN gradient
                ax.annotate("inf", (run["steps"], norms[-1]), color=style, ha="center", va="bottom")
        ax.axhline(ex["clipnorm"], color="k", ls="--", lw=0.8, label=f"clipnorm = {ex['clipnorm']}")
        ax.set_yscale("log")
        ax.set_xlabel("SGD step")
        ax.set_ylabel("||dL/dθ|| before clipping")
        ax.set_title(f"SimpleRNN, W_hh = {ex['gain']} x orthogonal")
        ax.legend(fontsize=7)
    return save_png(fig, path)


def _floor(values: Sequence[float]) -> list[float]:
    """Log axes cannot show 0 or inf; an underflowed gradient is drawn at 1e-30."""
    return [v if math.isfinite(v) and v > 0 else _TINY for v in values]


__all__ = [
    "CELLS",
    "GATE_BLOCKS",
    "ExplodingDemo",
    "GradientProfile",
    "exploding_demo",
    "gradient_profile",
    "gradient_report",
    "plot_gradient_report",
    "recurrent_spectra",
]
