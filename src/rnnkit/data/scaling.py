"""StandardScaler for time series: fit on the training part only, invert the forecasts.

Fitting on the whole series would leak the mean and spread of the future into the
training inputs; :meth:`StandardScaler.fit` is therefore called on the training rows
and the same statistics transform validation and test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.timeseries import listed
from rnnkit.errors import DataError, ShapeError
from rnnkit.utils.io import atomic_write_json


class StandardScaler:
    """Per-column ``(x - mean) / std`` with the statistics of the data given to :meth:`fit`.

    Works on (T, F) arrays, or (..., F) for transform (e.g. windows (N, L, F)).
    A constant column gets std 1, so it maps to 0 instead of dividing by zero.
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, x: Any) -> StandardScaler:
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[:, None]  # (T,) -> (T, 1)
        if arr.ndim != 2 or len(arr) == 0:
            raise DataError(
                f"cannot scale the data: expected a non-empty (rows, columns) array, got shape {arr.shape}."
            )
        if not np.isfinite(arr).all():
            # Rows counted from 1, as the messages about files count them (not "rows [100]").
            bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
            shown = listed(range(1, len(arr) + 1), bad)
            raise DataError(
                f"cannot scale the data: {len(bad)} row(s) hold NaN or infinite values (rows {shown}, "
                "counted from 1)."
            )
        self.mean_ = arr.mean(axis=0)
        std = arr.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def _check(self, x: Any) -> tuple[np.ndarray, bool]:
        if self.mean_ is None or self.scale_ is None:
            raise DataError("StandardScaler is not fitted: call fit(train) first.")
        arr = np.asarray(x, dtype=np.float64)
        squeeze = arr.ndim == 1 and len(self.mean_) == 1
        if squeeze:
            arr = arr[:, None]
        if arr.shape[-1] != len(self.mean_):
            raise ShapeError(
                f"StandardScaler was fitted on {len(self.mean_)} column(s) but got an array with "
                f"{arr.shape[-1]} in its last axis (shape {arr.shape})."
            )
        return arr, squeeze

    def transform(self, x: Any) -> np.ndarray:
        arr, squeeze = self._check(x)
        out = (arr - self.mean_) / self.scale_
        return out[:, 0] if squeeze else out

    def fit_transform(self, x: Any) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse_transform(self, x: Any, columns: Any = None) -> np.ndarray:
        """Back to the original units. ``columns`` selects the fitted columns that ``x``
        holds, e.g. ``columns=[0]`` to invert forecasts of the target alone."""
        if columns is not None and self.mean_ is not None and self.scale_ is not None:
            sub = StandardScaler()
            sub.mean_, sub.scale_ = self.mean_[columns], self.scale_[columns]
            return sub.inverse_transform(x)
        arr, squeeze = self._check(x)
        out = arr * self.scale_ + self.mean_
        return out[:, 0] if squeeze else out

    def to_dict(self) -> dict[str, Any]:
        if self.mean_ is None or self.scale_ is None:
            raise DataError("StandardScaler is not fitted: call fit(train) first.")
        return {"type": "standard", "mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StandardScaler:
        s = cls()
        s.mean_ = np.asarray(data["mean"], dtype=np.float64)
        s.scale_ = np.asarray(data["scale"], dtype=np.float64)
        return s

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict(), indent=None)

    @classmethod
    def load(cls, path: str | Path) -> StandardScaler:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
