"""Forecast accuracy metrics and the two probabilistic losses that give the intervals.

Shape symbols: N forecast origins, H horizon steps, Q quantiles. ``y`` and ``y_hat``
are (N, H) in the target's own units; ``last`` (N,) is the last observed value at each
origin (y_{t-1} for a forecast of y_t .. y_{t+H-1}).

Point metrics, averaged over all N * H forecasts::

    MAE   = mean |y - y_hat|
    RMSE  = sqrt(mean (y - y_hat)^2)
    sMAPE = mean 200 |y - y_hat| / (|y| + |y_hat|)          (percent, in [0, 200]; 0/0 := 0)
    MASE  = MAE / s,  s = mean_{t=1..T_train-1} |y_t - y_{t-1}|  (Hyndman & Koehler 2006)

MASE's scale ``s`` is the in-sample MAE of the one-step naive forecast on the training
part, so MASE < 1 means "better than persistence was, one step ahead, on the training
data"; it is defined for series that cross zero (Celsius), unlike sMAPE. The M4
competition uses the seasonal naive as the scale; a lag-m scale is available through
:func:`naive_scale`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from rnnkit.errors import ConfigError, DataError, invalid
from rnnkit.models.losses import Loss

Tensor = torch.Tensor

# N(0, 1) quantile for the usual central interval levels (statistics.NormalDist gives the rest).
_LOG_2PI = math.log(2 * math.pi)
SIGMA_FLOOR = 1e-3  # the Gaussian head's sigma never reaches 0: the NLL would be unbounded below


def naive_scale(train: np.ndarray, m: int = 1) -> float:
    """s = mean |y_t - y_{t-m}| over the training series (the MASE denominator)."""
    y = np.asarray(train, dtype=np.float64).ravel()
    if len(y) <= m:
        raise DataError(f"the training series has {len(y)} values: MASE's scale needs more than m={m}.")
    # 0 for a constant training series: MASE is then undefined (see :func:`mase`).
    return float(np.mean(np.abs(y[m:] - y[:-m])))


def mae(y: np.ndarray, y_hat: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y) - np.asarray(y_hat))))


def rmse(y: np.ndarray, y_hat: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(y_hat)) ** 2)))


def smape(y: np.ndarray, y_hat: np.ndarray) -> float:
    y, y_hat = np.asarray(y, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    den = np.abs(y) + np.abs(y_hat)
    ratio = np.divide(2 * np.abs(y - y_hat), den, out=np.zeros_like(den), where=den > 0)
    return float(100 * ratio.mean())


def mase(y: np.ndarray, y_hat: np.ndarray, scale: float) -> float | None:
    """MAE / s; ``None`` (undefined) when s = 0, i.e. the training series never changed."""
    return mae(y, y_hat) / scale if scale > 0 else None


def directional_accuracy(y: np.ndarray, y_hat: np.ndarray, last: np.ndarray) -> float | None:
    """Share of forecasts whose move from ``last`` has the sign of the true move.

    Steps where the truth did not move are left out. A flat forecast (the random walk)
    predicts no direction: ``None`` when no forecast moved at all.
    """
    true_move = np.sign(np.asarray(y) - np.asarray(last)[:, None])  # (N, H)
    pred_move = np.sign(np.asarray(y_hat) - np.asarray(last)[:, None])
    keep = (true_move != 0) & (pred_move != 0)
    if not keep.any():
        return None
    return float((true_move[keep] == pred_move[keep]).mean())


def coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Empirical coverage: the share of true values inside [lower, upper]."""
    y = np.asarray(y)
    return float(((y >= lower) & (y <= upper)).mean())


def point_metrics(
    y: np.ndarray, y_hat: np.ndarray, *, scale: float, last: np.ndarray | None = None
) -> dict[str, Any]:
    """MAE, RMSE, sMAPE, MASE over all steps, MAE per step, and (with ``last``) direction."""
    y, y_hat = np.asarray(y, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    if y.shape != y_hat.shape or y.ndim != 2:
        raise DataError(f"y and y_hat must both be (N, H), got {y.shape} and {y_hat.shape}.")
    out: dict[str, Any] = {
        "mae": mae(y, y_hat),
        "rmse": rmse(y, y_hat),
        "smape": smape(y, y_hat),
        "mase": mase(y, y_hat, scale),
        "mae_per_step": [mae(y[:, h], y_hat[:, h]) for h in range(y.shape[1])],
    }
    if last is not None:
        out["directional_accuracy"] = directional_accuracy(y, y_hat, last)
    return out


# ----------------------------------------------------------------------------- losses
class GaussianNLL(Loss):
    """Negative log-likelihood of y under N(mu, sigma^2), per sample averaged over steps.

    ``y_pred`` (B, H, 2) holds mu and a raw scale r; sigma = softplus(r) + 1e-3::

        l = mean_h [ 0.5 log(2 pi) + log sigma_h + (y_h - mu_h)^2 / (2 sigma_h^2) ]

    The central interval at level p is mu +- z_{(1+p)/2} sigma.
    """

    name = "gaussian_nll"

    def per_sample(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        mu, sigma = gaussian_params(y_pred)  # (B, H) each
        y = y_true.reshape(mu.shape)
        nll = 0.5 * _LOG_2PI + torch.log(sigma) + 0.5 * ((y - mu) / sigma) ** 2
        return nll.mean(dim=-1)  # (B,)


def gaussian_params(y_pred: Tensor) -> tuple[Tensor, Tensor]:
    """(B, H, 2) raw head output -> mu (B, H), sigma (B, H) > 0."""
    return y_pred[..., 0], torch.nn.functional.softplus(y_pred[..., 1]) + SIGMA_FLOOR


class Pinball(Loss):
    """Quantile (pinball) loss, per sample averaged over steps and quantiles.

    ``y_pred`` (B, H, Q) holds one forecast per quantile level tau_q::

        l = mean_{h,q} max(tau_q (y_h - yhat_hq), (tau_q - 1)(y_h - yhat_hq))

    Its minimiser is the tau-quantile of y (Koenker & Bassett 1978), so the outer two
    quantiles are an interval with no distributional assumption.
    """

    name = "pinball"

    def __init__(self, quantiles: list[float] | tuple[float, ...] = (0.1, 0.5, 0.9), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not quantiles or any(not 0 < q < 1 for q in quantiles):
            raise ConfigError(invalid("quantiles", quantiles, "levels strictly between 0 and 1"))
        self.quantiles = [float(q) for q in quantiles]

    def per_sample(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        tau = torch.tensor(self.quantiles, dtype=y_pred.dtype, device=y_pred.device)  # (Q,)
        err = y_true.reshape(*y_pred.shape[:-1], 1) - y_pred  # (B, H, Q)
        return torch.maximum(tau * err, (tau - 1) * err).mean(dim=(-2, -1))  # (B,)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "quantiles": self.quantiles}
