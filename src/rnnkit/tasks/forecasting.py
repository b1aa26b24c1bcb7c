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
from rnnkit.errors import ConfigError, DataError, MissingDependencyError, invalid
from rnnkit.models import Model, load_model
from rnnkit.models.callbacks import Callback, CSVLogger, EarlyStopping
from rnnkit.models.optimizers import Adam
from rnnkit.tasks import rundir
from rnnkit.tasks.baselines import BASELINES, baseline_forecasts
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

TRANSFORMS = ("level", "delta", "diff", "log_return")
STRATEGIES = ("direct", "autoregressive")
LIKELIHOODS = ("gaussian", "quantile")
CELLS = ("lstm", "gru")
MISSING = ("interpolate", "refuse")
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
@dataclass
class SeriesData:
    """A clean, regular series: ``y`` (T,) the target, ``covariates`` (T, C), dates (T,)."""

    dates: np.ndarray  # datetime64[s]
    y: np.ndarray
    covariates: np.ndarray
    target: str
    covariate_names: list[str]
    frequency: str

    def __len__(self) -> int:
        return len(self.y)

    def tail(self, n: int) -> SeriesData:
        return replace(self, dates=self.dates[-n:], y=self.y[-n:], covariates=self.covariates[-n:])


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        raise MissingDependencyError("forecasting from files needs pandas: pip install pandas.") from None
    return pd


def is_dataset_name(data: str) -> bool:
    """``stocks:AAPL`` is a dataset; ``prices.csv`` or ``dir/x`` is a file."""
    return not (os.sep in data or "/" in data or Path(data).suffix or Path(data).exists())


def read_frame(data: str) -> tuple[Any, str | None, str | None]:
    """(DataFrame, the dataset's target or None, the dataset's frequency or None)."""
    pd = _pandas()
    if is_dataset_name(data):
        from rnnkit import datasets

        ds = datasets.load(data)
        if not hasattr(ds, "frequency"):
            raise ConfigError(
                invalid("data", data, "a time-series dataset (stocks, seattle_weather, nyc_weather)")
            )
        return ds.frame.copy(), ds.target, ds.frequency
    path = Path(data)
    if not path.is_file():
        raise DataError(f"data file not found: {str(path)!r}.")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return pd.read_json(path), None, None
    # dtype=str: parse dates and numbers ourselves, so bad values can be named by row.
    return (
        pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False),
        None,
        None,
    )


def _rows(labels: Sequence[Any], idx: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(labels[i]) for i in idx[:limit])
    return shown + (f" and {len(idx) - limit} more" if len(idx) > limit else "")


def _parse_dates(pd: Any, raw: Any, column: str) -> Any:
    """ISO 8601 first (fast, unambiguous), then pandas' per-element parser for the rest."""
    text = raw.astype(str).str.strip()
    dates = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    retry = dates.isna() & (text != "")
    if retry.any():
        dates[retry] = pd.to_datetime(text[retry], errors="coerce", format="mixed", utc=True)
    bad = np.flatnonzero(dates.isna().to_numpy())
    if len(bad):
        labels = [f"{i + 1} ({text.iloc[i]!r})" for i in range(len(text))]
        raise DataError(f"column {column!r} has {len(bad)} unparseable date(s) in rows {_rows(labels, bad)}.")
    return dates.dt.tz_localize(None)  # naive UTC: date arithmetic is unambiguous


def _to_numeric(pd: Any, raw: Any, column: str) -> np.ndarray:
    """Numbers; blanks and NA become NaN (missing values); any other text is an error naming rows."""
    if raw.dtype.kind in "fiub":
        return raw.to_numpy(dtype=np.float64)
    text = raw.astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce")
    missing = text.isin(["", "NA", "NaN", "nan", "null", "None"])
    bad = np.flatnonzero((values.isna() & ~missing).to_numpy())
    if len(bad):
        labels = [f"{i + 1} ({text.iloc[i]!r})" for i in range(len(text))]
        raise DataError(
            f"column {column!r} is not numeric: {len(bad)} value(s) are not numbers, "
            f"in rows {_rows(labels, bad)}."
        )
    return values.to_numpy(dtype=np.float64)


def _nan_runs(values: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of NaN in a 1-D array."""
    nan = np.concatenate([[False], np.isnan(values), [False]])
    edges = np.flatnonzero(np.diff(nan.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _infer_frequency(pd: Any, dates: Any) -> tuple[str | None, int]:
    """(the most common spacing as a pandas rule, number of steps that differ from it)."""
    if len(dates) < 3:
        return None, 0
    deltas = dates.diff().iloc[1:]
    common = deltas.mode().iloc[0]
    off = int((deltas != common).sum())
    if common == pd.Timedelta(days=1) and off and (dates.dt.day_of_week < 5).all():
        return "B", 0  # weekdays only, 1-day steps with weekend gaps: trading days, already regular
    return _rule(pd, common), off


def _rule(pd: Any, step: Any) -> str:
    """A Timedelta as the plainest pandas rule: 1 day -> "D", 6 hours -> "6h", 90 s -> "90s"."""
    seconds = int(step / pd.Timedelta(seconds=1))
    for unit, size in (("D", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds % size == 0:
            n = seconds // size
            return unit if n == 1 else f"{n}{unit}"
    return f"{seconds}s"  # pragma: no cover - sub-second data


def clean_frame(
    frame: Any,
    *,
    date_column: str,
    target: str,
    covariates: Sequence[str] = (),
    frequency: str | None = None,
    resample: str = "auto",
    missing: str = "interpolate",
    max_gap: int = 3,
) -> SeriesData:
    """A table -> a regular :class:`SeriesData`, with every repair logged as a warning.

    - dates: parsed (ISO 8601, then anything pandas reads), sorted, duplicates refused;
    - values: numeric or refused naming the rows;
    - irregular spacing (only when ``frequency`` is not known): resampled to ``resample``
      (``"auto"``: the most common spacing) by the mean of each bin; weekday-only daily
      data are trading days and kept as they are;
    - missing values: runs of at most ``max_gap`` steps are interpolated linearly in
      time, longer runs (or any, with ``missing="refuse"``) are refused naming the dates.
    """
    pd = _pandas()
    columns = [target, *[c for c in covariates if c != target]]
    for c in [date_column, *columns]:
        if c not in frame.columns:
            names = ", ".join(repr(str(k)) for k in frame.columns)
            raise DataError(f"column {c!r} not found: the columns are {names}.")
    frame = frame.reset_index(drop=True)
    dates = _parse_dates(pd, frame[date_column], date_column)
    values = pd.DataFrame({c: _to_numeric(pd, frame[c], c) for c in columns})
    values.index = pd.DatetimeIndex(dates)
    if not values.index.is_monotonic_increasing:
        logger.warning("rows were not in date order: sorted them by %r", date_column)
        values = values.sort_index(kind="stable")
    dup = values.index[values.index.duplicated()]
    if len(dup):
        raise DataError(
            f"column {date_column!r} has duplicate dates: {_rows([str(d) for d in dup], range(len(dup)))}."
        )
    if frequency is None:
        frequency, off = _infer_frequency(pd, values.index.to_series())
        if resample != "none" and (off or resample != "auto"):
            rule = frequency if resample == "auto" else resample
            n_before = len(values)
            values = values.resample(rule).mean()
            frequency = rule
            logger.warning(
                "dates are irregular (%d of %d steps differ from the most common spacing): resampled "
                "to %r by the mean of each bin (%d rows -> %d); empty bins are missing values",
                off,
                n_before - 1,
                rule,
                n_before,
                len(values),
            )
        elif off:
            logger.warning("dates are irregular (%d steps) and resample='none': rows are used as steps", off)
    labels = [str(d) for d in values.index]
    for c in columns:
        col = values[c].to_numpy()
        runs = _nan_runs(col)
        if not runs:
            continue
        if missing == "refuse":
            idx = [i for a, b in runs for i in range(a, b)]
            raise DataError(
                f"column {c!r} has {len(idx)} missing value(s) at {_rows(labels, idx)} "
                "(missing='refuse'; missing='interpolate' fills short gaps)."
            )
        long = [(a, b) for a, b in runs if b - a > max_gap or a == 0 or b == len(col)]
        if long:
            a, b = long[0]
            edge = (
                " at the start or end of the series, where nothing can be interpolated"
                if b - a <= max_gap
                else ""
            )
            raise DataError(
                f"column {c!r} has a run of {b - a} missing value(s) from {labels[a]} to "
                f"{labels[b - 1]}{edge}: only gaps of at most max_gap={max_gap} inside the series "
                "are interpolated. Fill or drop those rows."
            )
        values[c] = values[c].interpolate(method="time")
        logger.warning(
            "column %r: interpolated %d missing value(s) in %d gap(s), first at %s",
            c,
            sum(b - a for a, b in runs),
            len(runs),
            labels[runs[0][0]],
        )
    arr = values.to_numpy(dtype=np.float64)
    return SeriesData(
        dates=values.index.to_numpy().astype("datetime64[s]"),
        y=arr[:, 0].copy(),
        covariates=arr[:, 1:].copy(),
        target=target,
        covariate_names=list(columns[1:]),
        frequency=frequency or "D",
    )


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


def apply_transform(series: SeriesData, transform: str) -> tuple[SeriesData, np.ndarray, np.ndarray]:
    """(series, z (T,), g (T,)): z the target as the network reads it, g(y) the anchor scale.

    diff and log_return drop the first row (it has no previous value to differ from).
    """
    y = series.y
    if transform == "log_return":
        bad = np.flatnonzero(y <= 0)
        if len(bad):
            raise DataError(
                f"transform='log_return' needs a positive target: column {series.target!r} has "
                f"{len(bad)} value(s) <= 0 at {_rows([str(d) for d in series.dates], bad)}."
            )
        g = np.log(y)
    else:
        g = y.copy()
    if transform in ("level", "delta"):
        return series, g.copy(), g  # the network reads levels
    trimmed = replace(series, dates=series.dates[1:], y=y[1:], covariates=series.covariates[1:])
    return trimmed, np.diff(g), g[1:]


def inverse_transform(c: np.ndarray, anchor: np.ndarray, transform: str) -> np.ndarray:
    """c (N, H) in target space -> y (N, H); ``anchor`` (N,) is g(y[t-1]). Increasing in c."""
    if transform == "level":
        return c
    base = anchor.reshape(-1, *([1] * (c.ndim - 1)))
    return np.exp(base + c) if transform == "log_return" else base + c


def future_dates(last: np.datetime64, n: int, frequency: str) -> np.ndarray:
    """The ``n`` dates after ``last`` on the series' grid (business days skip weekends, not holidays)."""
    pd = _pandas()
    return (
        pd.date_range(pd.Timestamp(last), periods=n + 1, freq=frequency)[1:]
        .to_numpy()
        .astype("datetime64[s]")
    )


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
METRIC_COLUMNS = ("mae", "rmse", "smape", "mase", "directional_accuracy", "coverage")


def results_table(results: dict[str, Any], cfg: ForecastConfig) -> list[list[str]]:
    """Rows [method, MAE, RMSE, sMAPE, MASE, direction, coverage] as strings ("-" = not defined)."""
    labels = {
        "seasonal_naive": f"seasonal naive (m={cfg.season})",
        "arima": f"ARIMA{tuple(cfg.arima_order)}",
        "ets": "ETS (damped trend)",
        "naive": "naive (last value)",
        "network": f"{cfg.cell.upper()} {cfg.strategy} ({cfg.likelihood})",
    }
    rows = []
    for name, m in results["methods"].items():
        cells = [labels.get(name, name)]
        for key in METRIC_COLUMNS:
            v = m.get(key)
            cells.append(
                "-"
                if v is None
                else (f"{100 * v:.1f}%" if key in ("directional_accuracy", "coverage") else f"{v:.4g}")
            )
        rows.append(cells)
    return rows


def results_markdown(results: dict[str, Any], cfg: ForecastConfig) -> str:
    head = ["method", "MAE", "RMSE", "sMAPE", "MASE", "direction", f"coverage ({cfg.level:.0%})"]
    lines = [
        f"Forecast of {cfg.target!r} from {cfg.data!r}, horizon {cfg.horizon}, test rows {results['rows']} "
        f"({results['origins']} origins). MASE scale (training naive MAE) = {results['mase_scale']:.4g}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in results_table(results, cfg)]
    return "\n".join(lines) + "\n"


def public(results: dict[str, Any]) -> dict[str, Any]:
    """The JSON-able part of :meth:`Forecaster.evaluate`'s result (arrays dropped)."""
    return {k: v for k, v in results.items() if not k.startswith("_")}


def _figure(width: float = 9.0, height: float = 3.6) -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover
        raise MissingDependencyError("plots need matplotlib: pip install 'rnnkit[plot]'") from exc
    return Figure(figsize=(width, height), dpi=100)  # Figure, not pyplot: no global state


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    import io

    from rnnkit.models.saving import atomic_write

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write(path, buf.getvalue())
    return Path(path)


def plot_forecast(
    forecast: Forecast, path: str | os.PathLike[str], truth: Sequence[float] | None = None
) -> Path:
    """History, point forecast and the shaded interval, to a PNG."""
    fig = _figure()
    ax = fig.subplots()
    hd = np.asarray(forecast.history_dates, dtype="datetime64[s]")
    fd = np.asarray(forecast.dates, dtype="datetime64[s]")
    ax.plot(hd, forecast.history, color="0.3", lw=1, label="history")
    ax.plot(fd, forecast.point, color="C0", lw=1.5, marker=".", label="forecast")
    ax.fill_between(
        fd, forecast.lower, forecast.upper, color="C0", alpha=0.25, label=f"{forecast.level:.0%} interval"
    )
    if truth is not None:
        ax.plot(fd, truth, color="C3", lw=1, marker="x", label="actual")
    ax.set_title(f"{forecast.target}: {len(fd)}-step forecast")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return _save(fig, path)


def plot_test(results: dict[str, Any], path: str | os.PathLike[str], steps: int = 150) -> Path:
    """The last ``steps`` test origins: truth, the network's 1-step-ahead forecast and interval,
    and the forecast of the last origin over the whole horizon."""
    arr, dates, y = results["_arrays"], results["_dates"], results["_y"]
    origins = arr["origins"][-steps:]
    fig = _figure()
    ax = fig.subplots()
    ax.plot(dates[origins], y[origins], color="0.3", lw=1, label="actual")
    ax.plot(dates[origins], arr["pred_point"][-steps:, 0], color="C0", lw=1, label="network, 1 step ahead")
    ax.fill_between(
        dates[origins],
        arr["pred_lower"][-steps:, 0],
        arr["pred_upper"][-steps:, 0],
        color="C0",
        alpha=0.2,
        label=f"{results['level']:.0%} interval",
    )
    H = results["horizon"]
    if H > 1:
        last = origins[-1]
        ax.plot(
            dates[last : last + H],
            arr["pred_point"][-1],
            color="C1",
            marker=".",
            lw=1.5,
            label=f"last origin, {H} steps",
        )
    m = results["methods"]["network"]
    naive_mase = results["methods"].get("naive", {}).get("mase", float("nan"))
    ax.set_title(f"test: MASE {m['mase']:.3f} (naive {naive_mase:.3f}), coverage {m['coverage']:.0%}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path)


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
