"""What a forecast run is made of: its config and the values resolved from the data, the network, the result.

:class:`ForecastConfig` (validated, ``"auto"`` values resolved by :func:`resolve`),
:func:`load_data`, :class:`ForecastNet` and :class:`Forecast`. The pipeline, the targets
and the strategies are described in :mod:`rnnkit.tasks.forecasting`, which re-exports
everything public here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnkit import layers
from rnnkit.data.timeseries import CALENDAR_FEATURES, calendar_features
from rnnkit.errors import ConfigError, invalid
from rnnkit.models import Model
from rnnkit.tasks.baselines import BASELINES
from rnnkit.tasks.forecast_data import MISSING, TRANSFORMS, SeriesData, clean_frame, read_frame

STRATEGIES = ("direct", "autoregressive")
LIKELIHOODS = ("gaussian", "quantile")
CELLS = ("lstm", "gru")
# Season (steps per cycle) used by the seasonal naive when season=0 ("auto"), by frequency.
SEASONS = {"h": 24, "D": 7, "B": 5, "W": 52, "MS": 12, "ME": 12}


# ============================================================================ config
@dataclass
class ForecastConfig:
    """Everything a forecast run needs; ``"auto"`` / 0 / None values are resolved from the data."""

    data: str = "stocks:AAPL"  # a dataset name (``rnnkit datasets list``) or a CSV/TSV/JSON file
    target: str | None = None  # None: the dataset's own target (stocks: close)
    date_column: str = "date"
    covariates: list[str] = field(default_factory=list)  # extra input columns (their future is not needed)
    horizon: int = 5  # H steps forecast from each origin
    lookback: int = 30  # L past steps the encoder reads
    cell: str = "lstm"
    units: int = 32
    num_layers: int = 1
    dropout: float = 0.0  # on the encoder's output, before the head
    strategy: str = "direct"
    likelihood: str = "gaussian"
    level: float = 0.8  # central prediction interval: 80% -> quantiles 0.1 and 0.9
    transform: str = "auto"  # level | delta | diff | log_return; auto: log_return for stocks:*, else delta
    calendar: list[str] | None = None  # None: by frequency (hour/dayofweek/dayofyear)
    season: int = 0  # seasonal-naive period in steps; 0: by frequency (24 hourly, 7 daily, 5 trading days)
    resample: str = "auto"  # irregular dates: "auto" (most common spacing), a pandas rule ("D"), or "none"
    missing: str = "interpolate"  # or "refuse"
    max_gap: int = 3  # longest run of missing values that is interpolated
    validation: float = 0.15
    test: float = 0.15
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3
    clipnorm: float = 1.0  # RNN gradients can explode: cap their global norm
    patience: int = 5  # early stopping on the validation loss; the best epoch's weights are kept
    samples: int = 100  # sampled paths for the autoregressive interval
    baselines: list[str] = field(default_factory=lambda: list(BASELINES))
    arima_order: list[int] = field(default_factory=lambda: [2, 1, 1])
    seed: int = 0
    frequency: str | None = None  # resolved: the pandas frequency of the cleaned series

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ForecastConfig:
        """Strict: an unknown key is an error naming it (typos must not pass silently)."""
        names = [f.name for f in fields(cls)]
        for key in values:
            if key not in names:
                raise ConfigError(invalid("forecast config key", key, names))
        return cls(**values).validate()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> ForecastConfig:
        for name in ("horizon", "lookback", "units", "num_layers", "batch_size", "samples", "max_gap"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(invalid(name, v, "an integer >= 1"))
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 0:
            raise ConfigError(invalid("epochs", self.epochs, "an integer >= 0"))
        if isinstance(self.season, bool) or not isinstance(self.season, int) or self.season < 0:
            raise ConfigError(invalid("season", self.season, "an integer >= 1, or 0 for auto"))
        for name, allowed in (
            ("cell", CELLS),
            ("strategy", STRATEGIES),
            ("likelihood", LIKELIHOODS),
            ("transform", ("auto", *TRANSFORMS)),
            ("missing", MISSING),
        ):
            if getattr(self, name) not in allowed:
                raise ConfigError(invalid(name, getattr(self, name), allowed))
        if not 0 < self.level < 1:
            raise ConfigError(invalid("level", self.level, "a fraction in (0, 1), e.g. 0.8"))
        if not 0 <= self.dropout < 1:
            raise ConfigError(invalid("dropout", self.dropout, "a fraction in [0, 1)"))
        for b in self.baselines:
            if b not in BASELINES:
                raise ConfigError(invalid("baselines", b, BASELINES))
        for c in self.calendar or []:
            if c not in CALENDAR_FEATURES:
                raise ConfigError(invalid("calendar", c, CALENDAR_FEATURES))
        if self.strategy == "autoregressive":
            if self.likelihood != "gaussian":
                raise ConfigError(
                    invalid(
                        "likelihood",
                        self.likelihood,
                        "'gaussian' with strategy='autoregressive' (its interval comes from sampled paths)",
                    )
                )
            if self.covariates:
                raise ConfigError(
                    "strategy='autoregressive' cannot use covariates "
                    f"({', '.join(self.covariates)}): their future values are unknown. Use "
                    "strategy='direct', or calendar features only."
                )
        if self.target is not None and self.target in self.covariates:
            raise ConfigError(f"the target {self.target!r} is also listed in covariates: remove it there.")
        return self

    @property
    def quantiles(self) -> list[float]:
        """(lower, median, upper) of the central interval at ``level``."""
        tail = (1 - self.level) / 2
        return [round(tail, 6), 0.5, round(1 - tail, 6)]


# ============================================================================ data


def load_data(cfg: ForecastConfig, data: str | None = None) -> SeriesData:
    """Read ``data`` (default: the config's) and clean it with the config's rules."""
    frame, ds_target, ds_freq = read_frame(data or cfg.data)
    target = cfg.target or ds_target
    if target is None:
        raise ConfigError("target is required for a file: pass the column to forecast (--target COL).")
    date_column = "date" if ds_freq is not None else cfg.date_column
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
    season = cfg.season or SEASONS.get(freq.lstrip("0123456789") if freq[:1] == "1" else freq, 1)
    return replace(
        cfg, target=series.target, transform=transform, calendar=list(calendar), season=season, frequency=freq
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _calendar(dates: np.ndarray, features: Sequence[str] | None) -> np.ndarray:
    """calendar_features, or (T, 0) for none (it stacks its columns, so it needs one)."""
    if not features:
        return np.zeros((len(dates), 0), dtype=np.float32)
    return calendar_features(dates, features)


def _iso(dates: np.ndarray) -> list[str]:
    return [str(d) for d in np.asarray(dates, dtype="datetime64[s]")]
