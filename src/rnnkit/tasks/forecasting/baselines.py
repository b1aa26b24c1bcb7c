"""The cheap baselines every forecast is reported beside: naive, seasonal naive, drift, ARIMA, ETS.

All of them answer the same question as the network, on the same origins: given the
target ``y[:t]`` (everything before origin ``t``), forecast ``y[t : t + H]``. Shapes:
``y`` (T,) the raw target, ``origins`` (N,) integer origins, output (N, H).

With k = 0..H-1 the step and t the origin (Hyndman & Athanasopoulos, FPP3 §5.2)::

    naive           y_hat[t+k] = y[t-1]
    seasonal naive  y_hat[t+k] = y[t+k - m (floor(k/m) + 1)]          (season m)
    drift           y_hat[t+k] = y[t-1] + (k+1) (y[t-1] - y[0]) / (t-1)

ARIMA and ETS are fitted once, on the training part only, and their parameters are
then kept fixed: the Kalman filter runs over the whole series and the forecast from
origin t starts from the filter's one-step prediction a_{t|t-1} (which has seen y[:t]
and nothing later), projected k steps with the state-space matrices::

    a_{t+k} = T a_{t+k-1} + c,     y_hat[t+k] = Z a_{t+k} + d

That equals ``res.apply(y[:t]).forecast(H)`` (a test checks it) at the cost of one
filter pass instead of N refits.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rnnkit.errors import ConfigError, DataError, MissingDependencyError, invalid
from rnnkit.tasks.forecasting.config import BASELINES

logger = logging.getLogger(__name__)

# ARIMA/ETS fit on at most this many of the most recent training values: maximum
# likelihood over 6,000 hourly points costs minutes on 2 cores and barely moves the estimates.
MAX_FIT_POINTS = 2000


def _check(y: np.ndarray, origins: np.ndarray, horizon: int, min_history: int = 1) -> None:
    if horizon < 1:
        raise ConfigError(invalid("horizon", horizon, "an integer >= 1"))
    if len(origins) and (origins.min() < min_history or origins.max() + horizon > len(y)):
        raise DataError(
            f"origins must leave {min_history} value(s) of history and {horizon} to forecast "
            f"in a series of {len(y)}: got origins {int(origins.min())}..{int(origins.max())}."
        )


def naive(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Persistence (the random walk): the last value, repeated."""
    _check(y, origins, horizon)
    return np.repeat(y[origins - 1][:, None], horizon, axis=1)  # (N, H)


def seasonal_naive(y: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """The value one season earlier (the last observed season, repeated)."""
    if season < 1:
        raise ConfigError(invalid("season", season, "an integer >= 1"))
    _check(y, origins, horizon, min_history=season)
    k = np.arange(horizon)
    idx = origins[:, None] + k[None, :] - season * (k[None, :] // season + 1)  # (N, H), all < t
    return y[idx]


def drift(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """The line through the first and the last observed value, extended."""
    _check(y, origins, horizon, min_history=2)
    slope = (y[origins - 1] - y[0]) / (origins - 1)  # (N,)
    return y[origins - 1][:, None] + slope[:, None] * np.arange(1, horizon + 1)[None, :]


def _statsmodels() -> Any:
    try:
        import statsmodels.api as sm
    except ImportError:  # pragma: no cover - statsmodels is a dependency of the forecasting extra
        raise MissingDependencyError(
            "ARIMA/ETS baselines need statsmodels: pip install statsmodels."
        ) from None
    return sm


def _quiet_fit(fit: Callable[[], Any]) -> Any:
    """Run a statsmodels fit, silencing only the warnings an honest baseline fit expects.

    - ConvergenceWarning: a capped L-BFGS on a baseline; the estimate is still usable.
    - "Non-stationary starting autoregressive parameters" / "Non-invertible starting MA
      parameters": statsmodels replaces the starting values by zeros and goes on.
    - "Too few observations to estimate starting parameters": the same fallback.
    Anything else still reaches pytest's filterwarnings=error.
    """
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Non-stationary starting autoregressive parameters")
        warnings.filterwarnings("ignore", message="Non-invertible starting MA parameters")
        warnings.filterwarnings("ignore", message="Too few observations to estimate starting parameters")
        return fit()


def fit_arima(train: np.ndarray, order: Sequence[int] = (2, 1, 1)) -> Any:
    """SARIMAX(p, d, q) fitted by maximum likelihood on (the end of) ``train``."""
    sm = _statsmodels()
    if len(order) != 3 or any(int(v) < 0 for v in order):
        raise ConfigError(invalid("arima_order", list(order), "three integers (p, d, q) >= 0"))
    y = np.asarray(train, dtype=np.float64)[-MAX_FIT_POINTS:]
    model = sm.tsa.SARIMAX(y, order=tuple(int(v) for v in order), trend="n")
    return _quiet_fit(lambda: model.fit(disp=False, maxiter=100))


def fit_ets(train: np.ndarray, season: int | None = None) -> Any:
    """Additive exponential smoothing, damped trend (+ additive season when 2 <= m <= 52).

    The state-space form (``statsmodels.tsa.statespace.exponential_smoothing``) is linear,
    so it shares the multi-origin forecast of ARIMA. Longer seasons (365 days) are left
    out: one state per season day makes the fit slow and the estimate poor.
    """
    _statsmodels()
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    y = np.asarray(train, dtype=np.float64)[-MAX_FIT_POINTS:]
    seasonal = season if season is not None and 2 <= season <= 52 and len(y) > 3 * season else None
    model = ExponentialSmoothing(y, trend=True, damped_trend=True, seasonal=seasonal)
    return _quiet_fit(lambda: model.fit(disp=False, maxiter=100))


def _matrix(ssm: Any, name: str, ndim: int) -> np.ndarray:
    arr = np.asarray(ssm[name])  # time-invariant models return one copy, without a time axis
    if arr.ndim != ndim:
        raise ConfigError(
            f"the state-space matrix {name!r} varies in time: the multi-origin forecast needs a fixed one."
        )
    return arr


def state_space_forecasts(result: Any, y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Forecasts (N, H) from every origin, with ``result``'s parameters fixed (see module doc)."""
    _check(y, origins, horizon)
    full = _quiet_fit(lambda: result.apply(np.asarray(y, dtype=np.float64)))
    ssm = full.model.ssm
    Z = _matrix(ssm, "design", 2)  # (1, k)
    T = _matrix(ssm, "transition", 2)  # (k, k)
    c = _matrix(ssm, "state_intercept", 1)[:, None]  # (k, 1)
    d = float(_matrix(ssm, "obs_intercept", 1)[0])
    a = np.asarray(full.filter_results.predicted_state)[:, origins]  # (k, N): a_{t|t-1}
    out = np.empty((len(origins), horizon))
    for k in range(horizon):
        out[:, k] = (Z @ a)[0] + d
        a = T @ a + c
    return out


def baseline_forecasts(
    y: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    *,
    train_stop: int,
    season: int,
    names: Sequence[str] = BASELINES,
    arima_order: Sequence[int] = (2, 1, 1),
) -> dict[str, np.ndarray]:
    """Every baseline in ``names`` on the same origins: ``{name: (N, H)}``.

    ARIMA and ETS see ``y[:train_stop]`` for their parameters and nothing later.
    """
    y = np.asarray(y, dtype=np.float64)
    origins = np.asarray(origins, dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    for name in names:
        if name == "naive":
            out[name] = naive(y, origins, horizon)
        elif name == "seasonal_naive":
            out[name] = seasonal_naive(y, origins, horizon, season)
        elif name == "drift":
            out[name] = drift(y, origins, horizon)
        elif name == "arima":
            out[name] = state_space_forecasts(fit_arima(y[:train_stop], arima_order), y, origins, horizon)
        elif name == "ets":
            out[name] = state_space_forecasts(fit_ets(y[:train_stop], season), y, origins, horizon)
        else:
            raise ConfigError(invalid("baselines", name, BASELINES))
        logger.debug("baseline %s: %d origins", name, len(origins))
    return out
