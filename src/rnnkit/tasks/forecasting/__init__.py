"""Time-series forecasting: an LSTM/GRU encoder with a probabilistic multi-step head, beside baselines.

Pipeline (each step is a function, see Code below; each named in the run directory)::

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

Code, one role per file: ``config`` (ForecastConfig, no torch), ``data`` (reading, cleaning,
transforms), ``model`` (load_data, resolve, ForecastNet, Forecast), ``forecaster`` (fit,
predict, evaluate, forecast, save, load), ``baselines``, ``metrics``, ``report`` (tables and
plots), ``training`` (:func:`train`, :func:`backtest`), ``cli`` (``rnnkit forecast``,
``rnnkit backtest``), ``api`` (the server's route). Every public name is importable from
here; torch is imported when a torch-backed name is first used.
"""

from __future__ import annotations

from rnnkit.utils.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(
        (
            "ForecastConfig",
            "CELLS",
            "LIKELIHOODS",
            "SEASONS",
            "STRATEGIES",
            "TRANSFORMS",
            "MISSING",
            "BASELINES",
        ),
        "config",
    ),
    **dict.fromkeys(
        (
            "SeriesData",
            "_pandas",
            "apply_transform",
            "clean_frame",
            "future_dates",
            "inverse_transform",
            "is_dataset_name",
            "read_frame",
        ),
        "data",
    ),
    **dict.fromkeys(("Forecast", "ForecastNet", "load_data", "resolve"), "model"),
    **dict.fromkeys(("STATE_FILE", "Forecaster"), "forecaster"),
    **dict.fromkeys(
        ("METRIC_COLUMNS", "plot_forecast", "plot_test", "public", "results_markdown", "results_table"),
        "report",
    ),
    **dict.fromkeys(
        ("train", "train_task", "backtest", "RESULTS_FILE", "TEST_PLOT_FILE", "TASK"), "training"
    ),
}
__all__ = [name for name in _EXPORTS if not name.startswith("_")]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
