"""Time-series forecasting: an LSTM/GRU encoder with a probabilistic multi-step head, beside baselines.

Pipeline (each step is a function below, each named in the run directory)::

    table -> clean_frame      dates parsed and sorted, values numeric, irregular dates resampled,
                              short gaps interpolated (warnings), long gaps refused (naming rows)
          -> transform        level | delta | diff | log_return (default: log_return for stocks, else delta)
          -> features         [z_t, covariates_t, calendar_t]   (T, F), scaled on the training rows
          -> make_windows     X (N, L, F) = rows [t-L, t);  C (N, H) = targets of rows [t, t+H)
          -> ForecastNet      X -> (N, H, P): P = 2 (Gaussian mu, sigma) or Q (quantiles)
          -> inverse          y_hat[t+k] = c_k (level) | y[t-1] + c_k (delta, diff)
                              | y[t-1] exp(c_k) (log_return)

Shape symbols: T rows, F input features, L lookback, H horizon, N windows (forecast
origins), P outputs per step, S sampled paths. Origin ``t`` forecasts ``y[t .. t+H-1]``
from ``y[:t]`` and never reads row ``t`` or later (``make_windows``' rule).

Targets. With g = identity (level, delta, diff) or log (log_return), the network's
target at step k is ``c_k = g(y[t+k])`` (level) or ``c_k = g(y[t+k]) - g(y[t-1])``
(the others): the change since the last observation, standardized per step on the
training windows. delta reads levels and predicts changes; diff and log_return also
read changes. delta is the default outside stocks because the network then learns a
correction to persistence instead of relearning the identity: on Seattle temp_max
(h=1) level gave MASE 1.045 and delta 0.948, against persistence's 1.004.

Every inverse above is increasing in c, so the interval's quantiles
map to the original units unchanged (a Gaussian on log-returns is a log-normal price).

Why log-returns for stocks: AAPL closed near $25 in 2003 and above $600 in 2012. A
scaler fitted on the training years cannot represent the test years' prices (they lie
far outside anything seen), while daily log-returns have about the same spread
throughout; the forecast is then "the price times exp(the predicted return)".

Strategies. ``direct``: one network emits all H steps at once (no error feedback).
``autoregressive``: a one-step network is run H times, each step fed the previous
step's output; its interval comes from S sampled paths (sample c ~ N(mu, sigma^2), feed
it back), so it needs the Gaussian head and covariates that are known in advance
(calendar features only).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnkit import layers
from rnnkit.data.scaling import StandardScaler
from rnnkit.data.timeseries import (
    CALENDAR_FEATURES,
    TimeSplit,
    calendar_features,
    make_windows,
    split_by_time,
)
from rnnkit.errors import ConfigError, DataError, invalid
from rnnkit.models import Model, load_model
from rnnkit.models.callbacks import Callback, CSVLogger, EarlyStopping
from rnnkit.models.optimizers import Adam
from rnnkit.tasks import rundir
from rnnkit.tasks.baselines import BASELINES, baseline_forecasts
from rnnkit.tasks.forecast_data import (  # noqa: F401 (re-exported: the public forecasting API)
    MISSING,
    TRANSFORMS,
    SeriesData,
    _pandas,
    apply_transform,
    clean_frame,
    future_dates,
    inverse_transform,
    is_dataset_name,
    read_frame,
)
from rnnkit.tasks.forecast_report import (  # noqa: F401 (re-exported: the public forecasting API)
    METRIC_COLUMNS,
    plot_forecast,
    plot_test,
    public,
    results_markdown,
    results_table,
)
from rnnkit.tasks.ts_metrics import (
    SIGMA_FLOOR,
    GaussianNLL,
    Pinball,
    coverage,
    naive_scale,
    point_metrics,
)
from rnnkit.utils.seed import set_seed

logger = logging.getLogger(__name__)

STRATEGIES = ("direct", "autoregressive")
LIKELIHOODS = ("gaussian", "quantile")
CELLS = ("lstm", "gru")
STATE_FILE = "forecaster.json"
RESULTS_FILE = "results.md"
TEST_PLOT_FILE = "test-forecast.png"
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


# ============================================================================ the forecaster
class Forecaster:
    """The trained network, its scalers and its config: fit / evaluate / forecast / save / load.

    ``scale`` is the MASE denominator (training in-sample naive MAE), ``train_stop`` the
    first row after the training part (in the transformed series).
    """

    def __init__(self, config: ForecastConfig) -> None:
        self.config = config.validate()
        self.net: ForecastNet | None = None
        self.input_scaler = StandardScaler()
        self.target_scaler = StandardScaler()
        self.scale = 1.0
        self.history: Any = None

    # ------------------------------------------------------------------ features and windows
    @property
    def steps(self) -> int:
        """Steps the network emits: H (direct) or 1 (autoregressive)."""
        return self.config.horizon if self.config.strategy == "direct" else 1

    def features(self, series: SeriesData) -> tuple[SeriesData, np.ndarray, np.ndarray]:
        """(trimmed series, inputs (T, F) unscaled, g (T,))."""
        cfg = self.config
        series, z, g = apply_transform(series, cfg.transform)
        cal = _calendar(series.dates, cfg.calendar)  # (T, 2 * n_cal)
        inputs = np.concatenate([z[:, None], series.covariates, cal], axis=1)  # (T, F)
        return series, inputs, g

    def windows(
        self, inputs: np.ndarray, g: np.ndarray, rows: slice, steps: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Windows whose targets lie in ``rows``: X (N, L, F) scaled, C (N, H) unscaled, anchors, origins."""
        L, H = self.config.lookback, steps or self.steps
        start = rows.start or 0
        X, Y = make_windows(inputs[rows], L, H, targets=g[rows])  # (N, L, F), (N, H, 1)
        origins = start + L + np.arange(len(X))  # row of the first forecast step
        anchors = g[origins - 1]  # g(y[t-1]), the last observed value
        C = Y[..., 0] if self.config.transform == "level" else Y[..., 0] - anchors[:, None]
        return self.input_scaler.transform(X).astype(np.float32), C, anchors, origins

    def _check_length(self, series: SeriesData, extra: int) -> None:
        need = self.config.lookback + extra + (self.config.transform in ("diff", "log_return"))
        if len(series) < need:
            raise DataError(
                f"the series has {len(series)} rows, too few for lookback={self.config.lookback} + "
                f"horizon={self.config.horizon}: it needs at least {need}."
            )

    # ------------------------------------------------------------------ training
    def fit(
        self,
        series: SeriesData,
        *,
        callbacks: Sequence[Callback] = (),
        verbose: int = 0,
        log_csv: str | os.PathLike[str] | None = None,
    ) -> TimeSplit:
        """Fit scalers on the training rows and the network on the training windows."""
        cfg = self.config
        self._check_length(series, cfg.horizon)
        series, inputs, g = self.features(series)
        split = split_by_time(len(series), cfg.validation, cfg.test)
        if split.train.stop < cfg.lookback + cfg.horizon:
            raise DataError(
                f"the training part has {split.train.stop} rows, too few for lookback={cfg.lookback} + "
                f"horizon={cfg.horizon} = {cfg.lookback + cfg.horizon}: give more data or shorten them."
            )
        # Statistics of the training rows only: nothing about the future leaks into the inputs.
        self.input_scaler.fit(inputs[split.train])
        self.scale = naive_scale(series.y[split.train])
        set_seed(cfg.seed)
        x_tr, c_tr, _, _ = self.windows(inputs, g, split.train)
        self.target_scaler.fit(c_tr)  # per step h: its own mean and spread
        outputs = 2 if cfg.likelihood == "gaussian" else len(cfg.quantiles)
        self.net = ForecastNet(self.steps, outputs, cfg.units, cfg.cell, cfg.num_layers, cfg.dropout)
        loss = GaussianNLL() if cfg.likelihood == "gaussian" else Pinball(cfg.quantiles)
        self.net.compile(optimizer=Adam(learning_rate=cfg.learning_rate, clipnorm=cfg.clipnorm), loss=loss)
        cbs = list(callbacks)
        validation = None
        if len(range(*split.validation.indices(len(series)))) >= cfg.horizon:
            x_va, c_va, _, _ = self.windows(inputs, g, split.context("validation", cfg.lookback))
            validation = (x_va, self.target_scaler.transform(c_va).astype(np.float32))
            cbs.append(EarlyStopping(patience=cfg.patience, restore_best_weights=True))
        if log_csv is not None:
            cbs.append(CSVLogger(log_csv))
        self.history = self.net.fit(
            x_tr,
            self.target_scaler.transform(c_tr).astype(np.float32),
            batch_size=cfg.batch_size,
            epochs=cfg.epochs,
            validation_data=validation,
            callbacks=cbs,
            verbose=verbose,
            shuffle=True,
        )
        return split

    # ------------------------------------------------------------------ prediction
    def _net(self) -> ForecastNet:
        if self.net is None:
            raise ConfigError("the forecaster is not trained: call fit() or Forecaster.load(run_dir) first.")
        return self.net

    def _raw(self, X: np.ndarray | torch.Tensor) -> np.ndarray:
        out = self._net().predict(X, batch_size=1024, verbose=0)  # (N, steps, P)
        return np.asarray(out, dtype=np.float64)

    def predict_windows(
        self, X: np.ndarray, anchors: np.ndarray, future_calendar: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Point, lower, upper (N, H) in the target's units for scaled windows X (N, L, F).

        ``future_calendar`` (N, H, 2 n_cal): the calendar features of the forecast steps,
        needed by the autoregressive strategy (it feeds them back as inputs).
        """
        cfg = self.config
        if cfg.strategy == "autoregressive":
            return self._autoregressive(X, anchors, future_calendar)
        raw = self._raw(X)
        m, s = self.target_scaler.mean_, self.target_scaler.scale_  # (H,) each
        if cfg.likelihood == "gaussian":
            mu, sigma = raw[..., 0], np.logaddexp(0.0, raw[..., 1]) + SIGMA_FLOOR  # softplus, as in training
            z = statistics.NormalDist().inv_cdf((1 + cfg.level) / 2)
            c_mid, c_lo, c_hi = mu, mu - z * sigma, mu + z * sigma
        else:
            q = np.sort(raw, axis=-1)  # (N, H, Q): sorting removes quantile crossing
            c_lo, c_mid, c_hi = q[..., 0], q[..., 1], q[..., -1]
        return {
            k: inverse_transform(v * s + m, anchors, cfg.transform)
            for k, v in (("point", c_mid), ("lower", c_lo), ("upper", c_hi))
        }

    @torch.no_grad()
    def _autoregressive(
        self, X: np.ndarray, anchors: np.ndarray, future_calendar: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """H one-step forecasts, each fed back; path 0 feeds the mean, paths 1..S sample."""
        cfg = self.config
        net = self._net()
        if future_calendar is None:
            raise ConfigError("the autoregressive strategy needs future_calendar (N, H, F_cal).")
        N, S, H = len(X), cfg.samples, cfg.horizon
        gen = torch.Generator().manual_seed(cfg.seed)
        m, s = float(self.target_scaler.mean_[0]), float(self.target_scaler.scale_[0])  # type: ignore[index]
        x = torch.as_tensor(X, dtype=torch.float32).repeat(S + 1, 1, 1)  # ((S+1) N, L, F)
        level = torch.zeros((S + 1) * N, dtype=torch.float64)
        if cfg.transform != "level":
            level += torch.as_tensor(anchors, dtype=torch.float64).repeat(S + 1)
        cal = torch.as_tensor(future_calendar, dtype=torch.float64).repeat(S + 1, 1, 1)  # ((S+1) N, H, C)
        steps = []
        was_training = net.training
        net.eval()
        try:
            for k in range(H):
                raw = net(x)[:, 0].double()  # ((S+1) N, 2)
                mu = raw[:, 0] * s + m
                sigma = (nn.functional.softplus(raw[:, 1]) + SIGMA_FLOOR) * s
                eps = torch.randn(mu.shape, generator=gen, dtype=torch.float64)
                eps[:N] = 0  # path 0: the mean path, the point forecast
                c = mu + sigma * eps  # the next value (level) or change (diff, log_return)
                level = c if cfg.transform == "level" else level + c
                steps.append(level.clone())
                z = level if cfg.transform == "delta" else c  # what the input column holds
                row = torch.cat([z[:, None], cal[:, k]], dim=1).numpy()  # ((S+1) N, F): [z, calendar]
                new = torch.as_tensor(self.input_scaler.transform(row), dtype=torch.float32)
                x = torch.cat([x[:, 1:], new[:, None]], dim=1)  # slide the window one step
        finally:
            net.train(was_training)
        G = torch.stack(steps, dim=1).reshape(S + 1, N, H).numpy()  # g(y) per path
        back = np.exp if cfg.transform == "log_return" else (lambda v: v)
        tail = (1 - cfg.level) / 2
        samples = back(G[1:])  # (S, N, H)
        return {
            "point": back(G[0]),
            "lower": np.quantile(samples, tail, axis=0),
            "upper": np.quantile(samples, 1 - tail, axis=0),
        }

    def _future_calendar(self, series: SeriesData, origins: np.ndarray) -> np.ndarray | None:
        if self.config.strategy != "autoregressive":
            return None
        H = self.config.horizon
        idx = origins[:, None] + np.arange(H)[None, :]  # (N, H)
        cal = _calendar(series.dates[idx.ravel()], self.config.calendar)
        return cal.reshape(len(origins), H, -1)

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self, series: SeriesData, rows: str | slice = "test", *, train_stop: int | None = None
    ) -> dict[str, Any]:
        """Network and baselines on the same origins, metrics in the target's units.

        ``rows``: a split name, or a slice of the transformed series (its first
        ``lookback`` rows are context only). ARIMA/ETS are fitted on the rows before
        ``train_stop`` (default: the end of the training part).
        """
        cfg = self.config
        tseries, inputs, g = self.features(series)
        split = split_by_time(len(tseries), cfg.validation, cfg.test)
        part = split.context(rows, cfg.lookback) if isinstance(rows, str) else rows
        train_stop = split.train.stop if train_stop is None else train_stop
        X, _, anchors, origins = self.windows(inputs, g, part, steps=cfg.horizon)
        y_true = tseries.y[origins[:, None] + np.arange(cfg.horizon)[None, :]]  # (N, H)
        pred = self.predict_windows(X, anchors, self._future_calendar(tseries, origins))
        forecasts = {"network": pred["point"]}
        forecasts.update(
            baseline_forecasts(
                tseries.y,
                origins,
                cfg.horizon,
                train_stop=train_stop,
                season=cfg.season,
                names=cfg.baselines,
                arima_order=cfg.arima_order,
            )
        )
        last = tseries.y[origins - 1]
        methods = {
            name: point_metrics(y_true, f, scale=self.scale, last=last) for name, f in forecasts.items()
        }
        methods["network"]["coverage"] = coverage(y_true, pred["lower"], pred["upper"])
        methods["network"]["interval_width"] = float(np.mean(pred["upper"] - pred["lower"]))
        first = _iso(tseries.dates[origins[:1]])[0]
        last_day = _iso(tseries.dates[origins[-1:] + cfg.horizon - 1])[0]
        return {
            "rows": f"{first} .. {last_day}",
            "origins": len(origins),
            "horizon": cfg.horizon,
            "level": cfg.level,
            "mase_scale": self.scale,
            "season": cfg.season,
            "methods": methods,
            "_arrays": {"origins": origins, "y": y_true, **{f"pred_{k}": v for k, v in pred.items()}},
            "_dates": tseries.dates,
            "_y": tseries.y,
        }

    # ------------------------------------------------------------------ the future
    def forecast(self, series: SeriesData, history: int = 200) -> Forecast:
        """Forecast the H steps after the end of ``series`` (the last L rows are the input)."""
        cfg = self.config
        self._check_length(series, 0)
        tseries, inputs, g = self.features(series)
        L = cfg.lookback
        X = self.input_scaler.transform(inputs[-L:][None]).astype(np.float32)  # (1, L, F)
        dates = future_dates(tseries.dates[-1], cfg.horizon, cfg.frequency or series.frequency)
        cal = None
        if cfg.strategy == "autoregressive":
            cal = _calendar(dates, cfg.calendar)[None]  # (1, H, 2 n_cal)
        pred = self.predict_windows(X, g[-1:], cal)
        tail = series.tail(history)
        return Forecast(
            dates=_iso(dates),
            point=pred["point"][0].tolist(),
            lower=pred["lower"][0].tolist(),
            upper=pred["upper"][0].tolist(),
            level=cfg.level,
            target=series.target,
            history_dates=_iso(tail.dates),
            history=tail.y.tolist(),
        )

    def forecast_values(self, values: Sequence[float], dates: Sequence[str] | None = None) -> Forecast:
        """Forecast from a plain list of target values (models without covariates; for the server).

        Without ``dates`` the values are taken to end now-ish on the run's grid: they are
        placed so that the last one falls on the last date of the training data.
        """
        if self.config.covariates:
            raise ConfigError(
                f"this model also reads covariates ({', '.join(self.config.covariates)}): "
                "give a table with those columns instead of values."
            )
        y = np.asarray(values, dtype=np.float64)
        if y.ndim != 1 or not np.isfinite(y).all():
            raise DataError("values must be a flat list of finite numbers.")
        freq = self.config.frequency or "D"
        if dates is None:
            pd = _pandas()
            end = (
                pd.Timestamp(self.last_date)
                if getattr(self, "last_date", None)
                else pd.Timestamp("2000-01-01")
            )
            d = pd.date_range(end=end, periods=len(y), freq=freq).to_numpy().astype("datetime64[s]")
        else:
            if len(dates) != len(y):
                raise DataError(f"dates has {len(dates)} entries but values has {len(y)}.")
            d = np.asarray(dates, dtype="datetime64[s]")
        series = SeriesData(d, y, np.zeros((len(y), 0)), self.config.target or "y", [], freq)
        return self.forecast(series)

    # ------------------------------------------------------------------ saving
    def save(self, path: str | os.PathLike[str]) -> None:
        """Network (model.safetensors) and scalers + config (forecaster.json) into a run directory."""
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        self._net().save(root / rundir.MODEL_FILE)
        rundir.write_json_atomic(
            root / STATE_FILE,
            {
                "config": self.config.to_dict(),
                "input_scaler": self.input_scaler.to_dict(),
                "target_scaler": self.target_scaler.to_dict(),
                "mase_scale": self.scale,
                "last_date": getattr(self, "last_date", None),
            },
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Forecaster:
        """A forecaster saved by :meth:`save` (or by ``rnnkit train forecast``)."""
        root = Path(path)
        state_path = root / STATE_FILE
        if not state_path.is_file():
            raise DataError(f"{str(root)!r} has no {STATE_FILE}: it is not a trained forecast run.")
        state = json.loads(state_path.read_text(encoding="utf-8"))
        self = cls(ForecastConfig.from_dict(state["config"]))
        self.input_scaler = StandardScaler.from_dict(state["input_scaler"])
        self.target_scaler = StandardScaler.from_dict(state["target_scaler"])
        self.scale = float(state["mase_scale"])
        self.last_date = state.get("last_date")
        self.net = load_model(root / rundir.MODEL_FILE, custom_objects={"ForecastNet": ForecastNet})
        return self


# ============================================================================ tables and plots


# ============================================================================ train / backtest
def train(
    cfg: ForecastConfig,
    out: str | os.PathLike[str] | None = None,
    *,
    verbose: int = 0,
    series: SeriesData | None = None,
) -> tuple[Forecaster, dict[str, Any]]:
    """Load, clean, fit, evaluate on the test split beside the baselines; write the run directory."""
    cfg = cfg.validate()
    series = series if series is not None else load_data(cfg)
    cfg = resolve(cfg, series)
    forecaster = Forecaster(cfg)
    run = rundir.create_run(out, "forecast", cfg.to_dict()) if out is not None else None
    forecaster.fit(series, verbose=verbose, log_csv=run.file(rundir.HISTORY_FILE) if run else None)
    forecaster.last_date = str(series.dates[-1])
    results = forecaster.evaluate(series, "test")
    if run is not None:
        forecaster.save(run.path)
        rundir.write_json_atomic(
            run.file(rundir.METRICS_FILE), {"test": public(results), "config": cfg.to_dict()}
        )
        run.file(RESULTS_FILE).write_text(results_markdown(results, cfg), encoding="utf-8")
        plot_test(results, run.file(TEST_PLOT_FILE))
        if forecaster.history is not None and forecaster.history.history:
            from rnnkit.models import plot_history

            plot_history(forecaster.history, run.file(rundir.CURVE_FILE), title=f"forecast {cfg.target}")
    return forecaster, results


def backtest(
    forecaster: Forecaster,
    series: SeriesData,
    origins: int = 5,
    *,
    refit: bool = False,
    on_progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Rolling-origin evaluation: K blocks after the training part, metrics per block, mean and spread.

    The rows after the training part are cut into ``origins`` consecutive blocks; block
    k is forecast from every origin whose H targets lie inside it. ``refit=False`` uses
    the trained network (it saw none of these rows as targets); ``refit=True`` retrains
    network, scalers and ARIMA/ETS on all rows before each block (a growing window,
    Tashman 2000), which is the honest version and costs ``origins`` trainings.
    """
    cfg = forecaster.config
    if isinstance(origins, bool) or not isinstance(origins, int) or origins < 1:
        raise ConfigError(invalid("origins", origins, "an integer >= 1"))
    tseries, _, _ = forecaster.features(series)
    split = split_by_time(len(tseries), cfg.validation, cfg.test)
    start, stop = split.train.stop, len(tseries)
    edges = np.linspace(start, stop, origins + 1).round().astype(int)
    if np.diff(edges).min() < cfg.horizon:
        raise DataError(
            f"{stop - start} rows after the training part cannot hold {origins} blocks of at least "
            f"horizon={cfg.horizon} rows: use fewer origins."
        )
    offset = len(series) - len(tseries)  # rows dropped by the transform
    blocks = []
    for k in range(origins):
        a, b = int(edges[k]), int(edges[k + 1])
        model = forecaster
        if refit:
            sub = replace(
                series,
                dates=series.dates[: a + offset],
                y=series.y[: a + offset],
                covariates=series.covariates[: a + offset],
            )
            # Train on everything before the block: its last 15% for early stopping, no test part.
            model = Forecaster(replace(cfg, test=0.0, validation=0.15))
            model.fit(sub)
        res = model.evaluate(series, slice(max(0, a - cfg.lookback), b), train_stop=a if refit else start)
        blocks.append({"rows": res["rows"], "origins": res["origins"], "methods": res["methods"]})
        if on_progress is not None:
            on_progress(
                f"block {k + 1}/{origins}: {res['rows']}, "
                f"network MASE {res['methods']['network']['mase']:.3f}"
            )
    summary: dict[str, Any] = {}
    for name in blocks[0]["methods"]:
        summary[name] = {}
        for key in ("mae", "rmse", "smape", "mase", "directional_accuracy", "coverage"):
            vals = [blk["methods"][name].get(key) for blk in blocks]
            if any(v is None for v in vals):
                continue
            arr = np.asarray(vals, dtype=np.float64)
            summary[name][key] = {
                "mean": float(arr.mean()),
                "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0,
                "min": float(arr.min()),
                "max": float(arr.max()),
            }
    net = np.array([blk["methods"]["network"]["mase"] for blk in blocks])
    wins = {
        name: int((net < np.array([blk["methods"][name]["mase"] for blk in blocks])).sum())
        for name in blocks[0]["methods"]
        if name != "network"
    }
    return {
        "origins": origins,
        "refit": refit,
        "horizon": cfg.horizon,
        "blocks": blocks,
        "summary": summary,
        "network_beats": wins,
    }
