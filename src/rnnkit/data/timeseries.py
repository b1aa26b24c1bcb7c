"""Time-series windows, calendar covariates, splits by time and value checks.

Shape symbols: T time steps, F input features, K target columns, L lookback, H horizon,
N windows.

The rule everything here keeps: **an input never contains a value from the future of
its target.** Window ``n`` with forecast origin ``t = start + n * stride`` has inputs
``x[t - L : t]`` and targets ``y[t : t + H]``; splits are contiguous blocks in time
order and are never shuffled across each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.errors import ConfigError, DataError, invalid

CALENDAR_FEATURES = ("hour", "dayofweek", "dayofmonth", "dayofyear", "month")
# Period of each cyclic feature: sin/cos of 2*pi*value/period puts Dec next to Jan, 23h next to 0h.
_PERIODS = {"hour": 24, "dayofweek": 7, "dayofmonth": 31, "dayofyear": 366, "month": 12}


def listed(labels: Sequence[object], idx: Sequence[int] | np.ndarray, limit: int = 10) -> str:
    """ "3, 7, 9 and 2 more": the labels of rows ``idx``, the first ``limit`` of them, for messages."""
    shown = ", ".join(str(labels[i]) for i in idx[:limit])
    return shown + (f" and {len(idx) - limit} more" if len(idx) > limit else "")


def check_numeric(values: Any, name: str = "values", row_labels: Sequence[Any] | None = None) -> np.ndarray:
    """Return ``values`` as float64, or raise :class:`DataError` naming the bad rows.

    Non-numeric entries and NaN/inf are refused; the message lists up to 10 rows by
    their label (a date, or the row number counted from 1) so the user can find them.
    """
    arr = values if isinstance(values, np.ndarray) else np.asarray(values)
    if arr.dtype.kind in "fiub":
        out = arr.astype(np.float64)
        bad_rows: list[int] = (
            np.flatnonzero(~np.isfinite(out).reshape(len(out), -1).all(axis=1)).tolist() if out.size else []
        )
        kind = "NaN or infinite values"
    else:
        flat = arr.reshape(len(arr), -1)
        out = np.empty(flat.shape, dtype=np.float64)
        bad: list[int] = []
        for i, row in enumerate(flat):
            try:
                out[i] = [float(v) for v in row]
            except (TypeError, ValueError):
                bad.append(i)
                out[i] = np.nan
        nonfinite = np.flatnonzero(~np.isfinite(out).all(axis=1))
        bad_rows = sorted(set(bad) | set(nonfinite.tolist()))
        out = out.reshape(arr.shape)
        kind = "non-numeric, NaN or infinite values"
    if len(bad_rows):
        labels = [row_labels[i] if row_labels is not None else i + 1 for i in bad_rows[:10]]
        more = f" and {len(bad_rows) - 10} more" if len(bad_rows) > 10 else ""
        where = "rows" if row_labels is None else "rows at"
        raise DataError(
            f"{name} has {kind} in {len(bad_rows)} row(s): {where} {', '.join(str(x) for x in labels)}{more}."
        )
    return out


def make_windows(
    inputs: np.ndarray,
    lookback: int,
    horizon: int,
    *,
    targets: np.ndarray | None = None,
    stride: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Direct multi-step windows: ``X`` (N, L, F) and ``Y`` (N, H, K).

    ``inputs`` is (T, F) or (T,); ``targets`` (T, K) or (T,) defaults to ``inputs``.
    Row ``t`` of both arrays must describe the same time step. Window n covers inputs
    ``[t - L, t)`` and targets ``[t, t + H)`` with ``t = L + n * stride``, so
    ``N = (T - L - H) // stride + 1``.
    """
    for arg, v in (("lookback", lookback), ("horizon", horizon), ("stride", stride)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ConfigError(invalid(arg, v, "an integer >= 1"))
    x = np.asarray(inputs)
    y = x if targets is None else np.asarray(targets)
    x2 = x.reshape(len(x), -1)  # (T, F)
    y2 = y.reshape(len(y), -1)  # (T, K)
    if len(x2) != len(y2):
        raise DataError(f"inputs has {len(x2)} rows but targets has {len(y2)}: they must be aligned in time.")
    T = len(x2)
    if lookback + horizon > T:
        raise DataError(
            f"the series has {T} rows, too few for lookback={lookback} + horizon={horizon} "
            f"= {lookback + horizon}: shorten them or give more data."
        )
    n = (T - lookback - horizon) // stride + 1
    origins = lookback + stride * np.arange(n)  # (N,) forecast origins t
    # Index arithmetic instead of a Python loop: (N, 1) + (1, L) -> (N, L) row indices.
    x_idx = origins[:, None] + np.arange(-lookback, 0)[None, :]
    y_idx = origins[:, None] + np.arange(horizon)[None, :]
    return x2[x_idx], y2[y_idx]  # (N, L, F), (N, H, K)


def calendar_features(dates: Any, features: Sequence[str] = ("dayofweek", "dayofyear")) -> np.ndarray:
    """Cyclic calendar covariates: (T, 2 * len(features)) columns of sin and cos.

    ``dates`` is anything numpy can read as ``datetime64`` (strings, datetimes, a pandas
    index). These are known in advance for any future date, so they are safe covariates.
    """
    for f in features:
        if f not in _PERIODS:
            raise ConfigError(invalid("features", f, CALENDAR_FEATURES))
    try:
        d = np.asarray(dates, dtype="datetime64[s]")
    except (TypeError, ValueError) as exc:
        raise DataError(f"dates could not be read as datetimes: {exc}.") from None
    days = d.astype("datetime64[D]")
    values = {
        "hour": (d - days).astype("timedelta64[h]").astype(int),
        # 1970-01-01 was a Thursday: shift so that Monday = 0, as pandas' dayofweek.
        "dayofweek": (days.astype(np.int64) + 3) % 7,
        "dayofmonth": (days - days.astype("datetime64[M]")).astype(int),
        "dayofyear": (days - days.astype("datetime64[Y]")).astype(int),
        "month": d.astype("datetime64[M]").astype(int) % 12,
    }
    cols = []
    for f in features:
        angle = 2 * np.pi * values[f] / _PERIODS[f]
        cols += [np.sin(angle), np.cos(angle)]
    return np.stack(cols, axis=1).astype(np.float32)  # (T, 2 * n_features)


@dataclass(frozen=True)
class TimeSplit:
    """Row ranges of a split by time; ``train.stop == validation.start`` and so on."""

    train: slice
    validation: slice
    test: slice

    def context(self, part: str, lookback: int) -> slice:
        """Rows to window for ``part`` with its ``lookback`` rows of history prepended.

        The history comes from the previous split's *inputs* only: the targets of the
        returned windows all lie inside ``part``.
        """
        s = getattr(self, part)
        return slice(max(0, s.start - lookback), s.stop)


def split_by_time(n_rows: int, validation: float = 0.15, test: float = 0.15) -> TimeSplit:
    """Contiguous train / validation / test blocks, oldest first (never shuffled)."""
    for arg, v in (("validation", validation), ("test", test)):
        if not 0 <= v < 1:
            raise ConfigError(invalid(arg, v, "a fraction in [0, 1)"))
    if validation + test >= 1:
        raise ConfigError(invalid("validation + test", validation + test, "less than 1"))
    n_test = round(n_rows * test)
    n_val = round(n_rows * validation)
    n_train = n_rows - n_val - n_test
    if n_train < 1:
        raise DataError(f"{n_rows} rows are too few to split: the training part would be empty.")
    return TimeSplit(slice(0, n_train), slice(n_train, n_train + n_val), slice(n_train + n_val, n_rows))
