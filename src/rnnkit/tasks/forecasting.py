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

Code: the config, :func:`load_data`, :func:`resolve`, the network and :class:`Forecast` are in
:mod:`rnnkit.tasks.forecast_model`; the :class:`Forecaster` (fit, predict, evaluate,
forecast, save, load) in :mod:`rnnkit.tasks.forecaster`; reading and transforms in
:mod:`rnnkit.tasks.forecast_data`; tables and plots in :mod:`rnnkit.tasks.forecast_report`;
runs (:func:`train`, :func:`backtest`) here. Every public name is importable from here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from rnnkit.data.timeseries import split_by_time
from rnnkit.errors import ConfigError, DataError, invalid
from rnnkit.tasks import rundir
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
from rnnkit.tasks.forecast_model import (  # noqa: F401 (re-exported: the public forecasting API)
    CELLS,
    LIKELIHOODS,
    SEASONS,
    STRATEGIES,
    Forecast,
    ForecastConfig,
    ForecastNet,
    load_data,
    resolve,
)
from rnnkit.tasks.forecast_report import (  # noqa: F401 (re-exported: the public forecasting API)
    METRIC_COLUMNS,
    plot_forecast,
    plot_test,
    public,
    results_markdown,
    results_table,
)
from rnnkit.tasks.forecaster import STATE_FILE, Forecaster  # noqa: F401 (re-exported)

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.md"
TEST_PLOT_FILE = "test-forecast.png"


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
