"""The forecasting task's config (preset ``configs/forecast.toml``, keys under ``[forecast]``).

``"auto"`` / 0 / None values are resolved from the data by
:func:`rnnkit.tasks.forecasting.model.resolve`; the run's forecaster.json stores the resolved
config, run.json the one asked for. No torch here (``rnnkit train forecast --help``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from rnnkit.config import Config
from rnnkit.errors import ConfigError, invalid

STRATEGIES = ("direct", "autoregressive")
LIKELIHOODS = ("gaussian", "quantile")
CELLS = ("lstm", "gru")
TRANSFORMS = ("level", "delta", "diff", "log_return")
MISSING = ("interpolate", "refuse")
BASELINES = ("naive", "seasonal_naive", "drift", "arima", "ets")
# Season (steps per cycle) used by the seasonal naive when season=0 ("auto"), by frequency: the
# first is the default, the others are tried too (choose_season) when the data holds two cycles.
SEASONS = {"h": 24, "D": 7, "B": 5, "W": 52, "MS": 12, "ME": 12}
SEASON_CANDIDATES = {"h": (24, 168), "D": (7, 365), "B": (5, 252), "W": (52,), "MS": (12,), "ME": (12,)}


@dataclass
class ForecastConfig(Config):
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
    interval_level: float = 0.8  # central prediction interval: 80% -> quantiles 0.1 and 0.9
    transform: str = "auto"  # level | delta | diff | log_return; auto: log_return for stocks:*, else delta
    calendar: list[str] | None = None  # None: by frequency (hour/dayofweek/dayofyear)
    season: int = 0  # seasonal-naive period in steps; 0: chosen from the data by frequency (daily: 7 or 365)
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
    # Trading days for future dates (an exchange_calendars code); resolved: XNYS for stocks:*.
    trading_calendar: str | None = None

    # The data decides these ("auto" -> a value): run.json keeps what the user asked for.
    RESUMABLE_KEYS: ClassVar[frozenset[str]] = frozenset({"epochs", "threads", "max_steps"})

    def __post_init__(self) -> None:
        self.validate()

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
        if not 0 < self.interval_level < 1:
            raise ConfigError(
                invalid("interval_level", self.interval_level, "a fraction in (0, 1), e.g. 0.8")
            )
        if not 0 <= self.dropout < 1:
            raise ConfigError(invalid("dropout", self.dropout, "a fraction in [0, 1)"))
        for b in self.baselines:
            if b not in BASELINES:
                raise ConfigError(invalid("baselines", b, BASELINES))
        from rnnkit.data.timeseries import CALENDAR_FEATURES  # numpy only; kept off --help's path

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
        tail = (1 - self.interval_level) / 2
        return [round(tail, 6), 0.5, round(1 - tail, 6)]
