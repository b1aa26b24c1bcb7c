"""Forecast runs: :func:`train` (fit, score beside the baselines, write the run) and :func:`backtest`."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.timeseries import split_by_time
from rnnkit.errors import ConfigError, DataError, invalid
from rnnkit.tasks import runs
from rnnkit.tasks.forecasting.config import ForecastConfig
from rnnkit.tasks.forecasting.data import SeriesData
from rnnkit.tasks.forecasting.forecaster import Forecaster
from rnnkit.tasks.forecasting.model import load_data, resolve
from rnnkit.tasks.forecasting.report import plot_test, public, results_markdown
from rnnkit.utils.io import atomic_write

logger = logging.getLogger(__name__)

TASK = "forecast"
RESULTS_FILE = "results.md"
TEST_PLOT_FILE = "test-forecast.png"


# ============================================================================ train / backtest
def train(
    cfg: ForecastConfig,
    out: str | os.PathLike[str] | None = None,
    *,
    verbose: int = 0,
    series: SeriesData | None = None,
    options: runs.TrainOptions | None = None,
) -> tuple[Forecaster, dict[str, Any]]:
    """Load, clean, fit, evaluate on the test split beside the baselines; write the run directory.

    With ``out`` (or ``options``) the run directory gets a checkpoint per epoch and resumes
    after a kill; run.json records the config as asked (``auto`` values unresolved), the
    forecaster's own file the resolved one."""
    cfg = cfg.validate()
    if options is None and out is not None:
        options = runs.TrainOptions(Path(out), quiet=not verbose)
    series = series if series is not None else load_data(cfg)
    run = None
    if options is not None:
        options.apply_threads()
        run = runs.start_run(options, TASK, cfg, data=runs.fingerprint(cfg.data))
    resolved = resolve(cfg, series)
    forecaster = Forecaster(resolved)
    forecaster.fit(series, verbose=verbose, run=run)
    forecaster.last_date = str(series.dates[-1])
    results = forecaster.evaluate(series, "test")
    if run is not None and run.is_writer:
        forecaster.save(run.path)
        net = results["methods"]["network"]
        run.write_json(
            runs.METRICS_FILE,
            {
                "task": TASK,
                "test": public(results),
                "config": resolved.to_dict(),
                **{f"test_{k}": float(net[k]) for k in ("mase", "mae") if net.get(k) is not None},
            },
        )
        atomic_write(run.file(RESULTS_FILE), results_markdown(results, resolved))
        plot_test(results, run.file(TEST_PLOT_FILE))
    return forecaster, results


def train_task(config: ForecastConfig, options: runs.TrainOptions) -> dict[str, Any]:
    """The registry's train: ``train`` into ``options.out``; returns metrics.json's content."""
    _, results = train(config, options=options, verbose=options.verbose)
    return runs.open_run(options.out).read_json(runs.METRICS_FILE) if runs.is_writer() else public(results)


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
            net_mase = res["methods"]["network"]["mase"]
            shown = "undefined (constant training series)" if net_mase is None else f"{net_mase:.3f}"
            on_progress(f"block {k + 1}/{origins}: {res['rows']}, network MASE {shown}")
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

    def mase_of(name: str) -> np.ndarray:  # undefined MASE (a constant series) compares as NaN: no win
        return np.array([np.nan if (v := b["methods"][name]["mase"]) is None else v for b in blocks])

    net = mase_of("network")
    wins = {name: int((net < mase_of(name)).sum()) for name in blocks[0]["methods"] if name != "network"}
    return {
        "origins": origins,
        "refit": refit,
        "horizon": cfg.horizon,
        "blocks": blocks,
        "summary": summary,
        "network_beats": wins,
    }
