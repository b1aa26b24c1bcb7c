"""Reading and cleaning a forecasting series: dates, numbers, gaps, resampling and the
target transforms (level, delta, diff, log_return). Used by :mod:`rnnkit.tasks.forecasting`."""

from __future__ import annotations

import csv
import io
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.loaders import read_text
from rnnkit.data.timeseries import listed
from rnnkit.errors import ConfigError, DataError, MissingDependencyError, invalid
from rnnkit.tasks.forecasting.config import MISSING, TRANSFORMS  # noqa: F401 (re-exported)

logger = logging.getLogger(__name__)


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
    sep = "\t" if suffix == ".tsv" else ","
    text = read_text(path)  # not UTF-8: an error naming the file and the line
    try:
        # dtype=str: parse dates and numbers ourselves, so bad values can be named by their line.
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            want, line, got = found.groups()
            raise DataError(
                f"{str(path)!r} line {line} has {got} fields but the header has {want}."
            ) from None
        raise DataError(f"{str(path)!r} is not a table pandas can read: {str(exc).strip()}") from None
    frame.attrs["lines"] = _file_lines(text, sep)  # used only where it counts as many rows (_where)
    return frame, None, None


def _file_lines(text: str, sep: str) -> list[int]:
    """The line each data row starts on (the header is line 1; blank lines are skipped, as
    pandas skips them; a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    next(reader, None)
    lines, end = [], reader.line_num
    for row in reader:
        start, end = end + 1, reader.line_num
        if row and any(cell.strip() for cell in row):
            lines.append(start)
    return lines


def _where(frame: Any) -> list[str]:
    """How messages name each row of ``frame``: "line 4" (the file's line, header = line 1) when
    it was read from a file, else "row 3" (counted from 1): what the user sees, never an index."""
    lines = frame.attrs.get("lines")
    if lines is not None and len(lines) == len(frame):
        return [f"line {n}" for n in lines]
    return [f"row {i + 1}" for i in range(len(frame))]


def _parse_dates(pd: Any, raw: Any, column: str, where: Sequence[str]) -> Any:
    """ISO 8601 first (fast, unambiguous), then pandas' per-element parser for the rest."""
    text = raw.astype(str).str.strip()
    dates = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    retry = dates.isna() & (text != "")
    if retry.any():
        dates[retry] = pd.to_datetime(text[retry], errors="coerce", format="mixed", utc=True)
    bad = np.flatnonzero(dates.isna().to_numpy())
    if len(bad):
        labels = [f"{where[i]} ({text.iloc[i]!r})" for i in range(len(text))]
        raise DataError(f"column {column!r} has {len(bad)} unparseable date(s), at {listed(labels, bad)}.")
    return dates.dt.tz_localize(None)  # naive UTC: date arithmetic is unambiguous


# Beyond this the squares that variances and RMSE sum overflow float64 (sqrt(max) ~ 1.3e154,
# divided by a generous 10^4 rows): such values would train and report MAE inf, sMAPE nan.
MAX_ABS_VALUE = 1e150


def _check_finite(values: np.ndarray, text: Any, column: str, where: Sequence[str]) -> np.ndarray:
    """Refuse +-inf and values too large to square, naming their lines (or rows) as ``where`` does."""
    bad = np.flatnonzero(np.isinf(values) | (np.abs(np.nan_to_num(values)) > MAX_ABS_VALUE))
    if len(bad):
        labels = [f"{where[i]} ({text[i]!r})" for i in range(len(values))]
        raise DataError(
            f"column {column!r} has {len(bad)} value(s) that are infinite or beyond +-{MAX_ABS_VALUE:g} "
            f"(their squares overflow), at {listed(labels, bad)}."
        )
    return values


def _to_numeric(pd: Any, raw: Any, column: str, where: Sequence[str]) -> np.ndarray:
    """Numbers; blanks and NA become NaN (missing values); any other text, an infinite value or
    one too large to square is an error naming their lines (or rows)."""
    if raw.dtype.kind in "fiub":
        values = raw.to_numpy(dtype=np.float64)
        return _check_finite(values, [str(v) for v in values], column, where)
    text = raw.astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce")
    missing = text.isin(["", "NA", "NaN", "nan", "null", "None"])
    bad = np.flatnonzero((values.isna() & ~missing).to_numpy())
    if len(bad):
        labels = [f"{where[i]} ({text.iloc[i]!r})" for i in range(len(text))]
        raise DataError(
            f"column {column!r} is not numeric: {len(bad)} value(s) are not numbers, "
            f"at {listed(labels, bad)}."
        )
    return _check_finite(values.to_numpy(dtype=np.float64), list(text), column, where)


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
    where = _where(frame)
    frame = frame.reset_index(drop=True)
    dates = _parse_dates(pd, frame[date_column], date_column, where)
    values = pd.DataFrame({c: _to_numeric(pd, frame[c], c, where) for c in columns})
    values.index = pd.DatetimeIndex(dates)
    if not values.index.is_monotonic_increasing:
        logger.warning("rows were not in date order: sorted them by %r", date_column)
        values = values.sort_index(kind="stable")
    dup = values.index[values.index.duplicated()]
    if len(dup):
        raise DataError(
            f"column {date_column!r} has duplicate dates: {listed([str(d) for d in dup], range(len(dup)))}."
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
                f"column {c!r} has {len(idx)} missing value(s) at {listed(labels, idx)} "
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
                f"{len(bad)} value(s) <= 0 at {listed([str(d) for d in series.dates], bad)}."
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


def future_dates(last: np.datetime64, n: int, frequency: str, calendar: str | None = None) -> np.ndarray:
    """The ``n`` dates after ``last`` on the series' grid.

    ``calendar``: an exchange's trading calendar (``exchange_calendars`` code, e.g. "XNYS"), so
    daily market data skips weekends *and* market holidays (2019-01-01 is no trading day);
    plain business days ("B") skip weekends only."""
    pd = _pandas()
    if calendar is not None:
        try:
            import exchange_calendars as xcals
        except ImportError:
            raise MissingDependencyError(
                f"trading calendar {calendar!r} needs exchange-calendars: pip install exchange-calendars"
            ) from None
        last_day = pd.Timestamp(last).normalize()
        cal = xcals.get_calendar(calendar, start=last_day - pd.Timedelta(days=7))
        first = cal.date_to_session(last_day + pd.Timedelta(days=1), direction="next")
        return cal.sessions_window(first, n).to_numpy().astype("datetime64[s]")
    return (
        pd.date_range(pd.Timestamp(last), periods=n + 1, freq=frequency)[1:]
        .to_numpy()
        .astype("datetime64[s]")
    )
