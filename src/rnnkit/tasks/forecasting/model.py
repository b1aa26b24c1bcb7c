"""The data-dependent half of a forecast run: :func:`load_data`, :func:`resolve` (the config's
``"auto"`` values from the data), the network :class:`ForecastNet` and the result :class:`Forecast`.
The pipeline, the targets and the strategies are described in :mod:`rnnkit.tasks.forecasting`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnkit import layers
from rnnkit.data.timeseries import calendar_features, split_by_time
from rnnkit.errors import ConfigError, DataError, invalid
from rnnkit.models import Model
from rnnkit.tasks.forecasting.config import (  # noqa: F401 (re-exported)
    CELLS,
    LIKELIHOODS,
    SEASON_CANDIDATES,
    SEASONS,
    STRATEGIES,
    ForecastConfig,
)
from rnnkit.tasks.forecasting.data import SeriesData, clean_frame, read_frame

logger = logging.getLogger(__name__)

# ============================================================================ data


def load_data(cfg: ForecastConfig, data: str | None = None) -> SeriesData:
    """Read ``data`` (default: the config's) and clean it with the config's rules."""
    frame, ds_target, ds_freq = read_frame(data or cfg.data)
    target = cfg.target or ds_target
    if target is None:
        raise ConfigError("target is required for a file: pass the column to forecast (--target COL).")
    date_column = "date" if ds_freq is not None else cfg.date_column
    try:
        return clean_frame(
            frame,
            date_column=date_column,
            target=target,
            covariates=cfg.covariates,
            frequency=ds_freq,
            resample=cfg.resample,
            missing=cfg.missing,
            max_gap=cfg.max_gap,
        )
    except DataError as exc:
        if ds_freq is not None:  # a bundled dataset: no file of the user's to name
            raise
        raise DataError(f"{data or cfg.data!r}: {exc}") from None  # which file the lines are in


def choose_season(train: np.ndarray, frequency: str) -> int:
    """The seasonal-naive period for ``season=0``: among the frequency's candidates (daily: a week
    or a year; hourly: a day or a week) those with two whole cycles in the training rows, the one
    whose seasonal naive |y_t - y_{t-m}| is smallest there (compared over the same rows). Logged,
    so the choice is said, not hidden."""
    key = frequency.lstrip("0123456789") if frequency[:1] == "1" else frequency
    default = SEASONS.get(key, 1)
    fits = [m for m in SEASON_CANDIDATES.get(key, (default,)) if len(train) >= 2 * m]
    if len(fits) < 2:
        logger.info("seasonal naive: season %d steps (the default for %r data)", default, frequency)
        return default
    start = max(fits)
    errors = {m: float(np.mean(np.abs(train[start:] - train[start - m : len(train) - m]))) for m in fits}
    best = min(errors, key=errors.__getitem__)
    shown = ", ".join(f"m={m}: {e:.4g}" for m, e in errors.items())
    logger.info(
        "seasonal naive: season %d steps for %r data (in-sample error of each candidate: %s); "
        "--season N overrides it",
        best,
        frequency,
        shown,
    )
    return best


def resolve(cfg: ForecastConfig, series: SeriesData) -> ForecastConfig:
    """Replace the "auto" values by the ones this series implies (stored in the run)."""
    freq = series.frequency
    transform = cfg.transform
    if transform == "auto":
        transform = "log_return" if cfg.data.startswith("stocks") else "delta"
    calendar = cfg.calendar
    if calendar is None:
        sub_daily = freq[-1:] in ("h", "T", "S") or freq.endswith(("min", "s"))
        calendar = ["hour", "dayofweek"] if sub_daily else ["dayofweek"]
        # The day of the year only helps when the training part has seen each day more than
        # once: with one year, the network memorizes the year and the test months are new.
        span_days = (series.dates[-1] - series.dates[0]) / np.timedelta64(1, "D")
        if span_days * (1 - cfg.validation - cfg.test) >= 2 * 365:
            calendar.append("dayofyear")
    season = cfg.season or choose_season(
        series.y[split_by_time(len(series), cfg.validation, cfg.test).train], freq
    )
    trading = cfg.trading_calendar
    if trading is None and cfg.data.startswith("stocks") and freq == "B":
        trading = "XNYS"  # the bundled stocks are NYSE/Nasdaq listings: no forecast on a market holiday
    return replace(
        cfg,
        target=series.target,
        transform=transform,
        calendar=list(calendar),
        season=season,
        frequency=freq,
        trading_calendar=trading,
    ).validate()


# ============================================================================ the network
class ForecastNet(Model):
    """window (B, L, F) -> num_layers x LSTM/GRU -> Dense -> (B, H, P)."""

    def __init__(
        self,
        horizon: int,
        outputs: int,
        units: int = 32,
        cell: str = "lstm",
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(invalid("cell", cell, CELLS))
        rnn = layers.LSTM if cell == "lstm" else layers.GRU
        # Only the last layer returns its final state; the ones below feed it whole sequences.
        self.encoder = nn.ModuleList(
            [rnn(units, return_sequences=i < num_layers - 1) for i in range(num_layers)]
        )
        self.drop = layers.Dropout(dropout)
        self.head = layers.Dense(horizon * outputs)
        self.horizon, self.outputs = horizon, outputs

    def forward(self, x: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        h = x  # (B, L, F)
        for rnn in self.encoder:
            h = rnn(h)  # (B, L, U) below the last layer, then (B, U)
        out = self.head(self.drop(h))  # (B, H * P)
        return out.reshape(x.shape[0], self.horizon, self.outputs)  # (B, H, P)


# ============================================================================ results
@dataclass
class Forecast:
    """One forecast: ``point``, ``lower``, ``upper`` (H,) at ``dates`` (H,), plus the recent history."""

    dates: list[str]
    point: list[float]
    lower: list[float]
    upper: list[float]
    level: float
    target: str
    history_dates: list[str]
    history: list[float]
    # Notes a user should see beside the numbers (e.g. inputs far outside the training data).
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _calendar(dates: np.ndarray, features: Sequence[str] | None) -> np.ndarray:
    """calendar_features, or (T, 0) for none (it stacks its columns, so it needs one)."""
    if not features:
        return np.zeros((len(dates), 0), dtype=np.float32)
    return calendar_features(dates, features)


def _iso(dates: np.ndarray) -> list[str]:
    return [str(d) for d in np.asarray(dates, dtype="datetime64[s]")]
