"""``rnnkit train forecast``, ``rnnkit forecast`` and ``rnnkit backtest``: time-series forecasting.

    rnnkit train forecast --data stocks:AAPL --target close --horizon 5 --out runs/fc
    rnnkit train forecast --data file.csv --date-column date --target COL --covariates A,B --horizon 7
    rnnkit forecast runs/fc --plot forecast.png [--data new.csv] [--json]
    rnnkit backtest runs/fc --origins 5 [--refit]

The model, the baselines and every number are in :mod:`rnnkit.tasks.forecasting`;
this file only parses options, prints tables and writes files.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import tomllib
import typer
from rich.console import Console
from rich.table import Table

from rnnkit.errors import ConfigError, invalid
from rnnkit.tasks import rundir
from rnnkit.tasks.forecasting import (
    ForecastConfig,
    Forecaster,
    load_data,
    plot_forecast,
    results_table,
    train,
)
from rnnkit.tasks.forecasting import (
    backtest as run_backtest,
)

console = Console()
BACKTEST_FILE = "backtest.json"


def _setup(threads: int) -> None:
    """Library warnings (resampling, interpolation) reach the terminal; torch uses ``threads``."""
    import torch

    log = logging.getLogger("rnnkit")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    if threads < 1:
        raise ConfigError(invalid("threads", threads, "an integer >= 1"))
    # Small recurrent nets are latency-bound: on a shared 2-core machine one thread was
    # 40x faster per step than two (thread hand-offs dominate a 32-unit LSTM step).
    torch.set_num_threads(threads)


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [c.strip() for c in text.split(",") if c.strip()]


def _command_line() -> str:
    return "rnnkit " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _print_results(results: dict[str, Any], cfg: ForecastConfig) -> None:
    table = Table(title=f"test: {results['rows']} ({results['origins']} origins, horizon {cfg.horizon})")
    for col in ("method", "MAE", "RMSE", "sMAPE", "MASE", "direction", f"coverage ({cfg.level:.0%})"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for row in results_table(results, cfg):
        table.add_row(*row)
    console.print(table)


def train_forecast(
    data: Annotated[
        str | None,
        typer.Option(help="A dataset (stocks:AAPL, seattle_weather, nyc_weather:JFK) or a CSV file."),
    ] = None,
    target: Annotated[str | None, typer.Option(help="Column to forecast (datasets have a default).")] = None,
    date_column: Annotated[str | None, typer.Option(help="Date column of a file (default 'date').")] = None,
    covariates: Annotated[str | None, typer.Option(help="Comma-separated extra input columns.")] = None,
    horizon: Annotated[int | None, typer.Option(help="Steps to forecast (default 5).")] = None,
    lookback: Annotated[int | None, typer.Option(help="Past steps the network reads (default 30).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs (early stopping on validation).")] = None,
    out: Annotated[Path, typer.Option(help="Run directory to write.")] = Path("runs/forecast"),
    config: Annotated[
        Path | None, typer.Option(help="A TOML preset (configs/forecast.toml); flags win.")
    ] = None,
    cell: Annotated[str | None, typer.Option(help="lstm or gru.")] = None,
    units: Annotated[int | None, typer.Option(help="Recurrent units.")] = None,
    strategy: Annotated[
        str | None, typer.Option(help="direct (all H steps at once) or autoregressive.")
    ] = None,
    likelihood: Annotated[str | None, typer.Option(help="gaussian (NLL) or quantile (pinball loss).")] = None,
    level: Annotated[float | None, typer.Option(help="Prediction-interval level (default 0.8).")] = None,
    transform: Annotated[
        str | None,
        typer.Option(help="level, delta, diff or log_return; default: log_return for stocks, else delta."),
    ] = None,
    season: Annotated[
        int | None, typer.Option(help="Seasonal-naive period in steps (0 = by frequency).")
    ] = None,
    resample: Annotated[
        str | None,
        typer.Option(help="Irregular dates: auto (most common spacing), a rule like D or h, or none."),
    ] = None,
    missing: Annotated[
        str | None, typer.Option(help="interpolate (gaps up to --max-gap steps, with a warning) or refuse.")
    ] = None,
    max_gap: Annotated[int | None, typer.Option(help="Longest gap interpolated (default 3).")] = None,
    baselines: Annotated[
        str | None, typer.Option(help="Comma-separated: naive, seasonal_naive, drift, arima, ets.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of weights and shuffling.")] = None,
    threads: Annotated[int, typer.Option(help="torch threads (1 is fastest for small nets).")] = 1,
    verbose: Annotated[int, typer.Option(help="0 quiet, 1 progress bar, 2 one line per epoch.")] = 0,
) -> None:
    """Train a forecaster, score it on the test split beside the baselines, write a run directory."""
    _setup(threads)
    values: dict[str, Any] = {}
    if config is not None:
        if not config.is_file():
            raise ConfigError(f"config file not found: {str(config)!r}.")
        values.update(tomllib.loads(config.read_text(encoding="utf-8")).get("forecast", {}))
    flags = {
        "data": data,
        "target": target,
        "date_column": date_column,
        "covariates": _split(covariates),
        "horizon": horizon,
        "lookback": lookback,
        "epochs": epochs,
        "cell": cell,
        "units": units,
        "strategy": strategy,
        "likelihood": likelihood,
        "level": level,
        "transform": transform,
        "season": season,
        "resample": resample,
        "missing": missing,
        "max_gap": max_gap,
        "baselines": _split(baselines),
        "seed": seed,
    }
    values.update({k: v for k, v in flags.items() if v is not None})
    cfg = ForecastConfig.from_dict(values)
    forecaster, results = train(cfg, out, verbose=verbose)
    cfg = forecaster.config
    metrics_path = out / rundir.METRICS_FILE
    saved = json.loads(metrics_path.read_text(encoding="utf-8"))
    saved["command"] = _command_line()
    rundir.write_json_atomic(metrics_path, saved)
    _print_results(results, cfg)
    net, naive = results["methods"]["network"], results["methods"].get("naive")
    if naive is not None:
        verdict = "beats" if net["mase"] < naive["mase"] else "does not beat"
        console.print(
            f"The network {verdict} the naive forecast (MASE {net['mase']:.3f} vs {naive['mase']:.3f})."
        )
    console.print(f"run written to {out} (results.md, metrics.json, test-forecast.png)")


def forecast(
    run: Annotated[Path, typer.Argument(help="A run directory from rnnkit train forecast.")],
    data: Annotated[
        Path | None,
        typer.Option(help="Forecast from the end of this file (same columns) instead of the run's data."),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write history, forecast and interval to this PNG.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the forecast as JSON.")] = False,
    history: Annotated[int, typer.Option(help="Past points kept in the plot and the JSON.")] = 120,
    threads: Annotated[int, typer.Option(help="torch threads.")] = 1,
) -> None:
    """Forecast the next H steps with a prediction interval (and plot them)."""
    _setup(threads)
    rundir.open_run(run, "forecast")
    forecaster = Forecaster.load(run)
    series = load_data(forecaster.config, str(data) if data is not None else None)
    result = forecaster.forecast(series, history=history)
    if plot is not None:
        plot_forecast(result, plot)
    if json_out:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    table = Table(title=f"{result.target}: forecast after {result.history_dates[-1]}")
    for col in ("date", "forecast", f"lower ({result.level:.0%})", "upper"):
        table.add_column(col, justify="right")
    for d, p, lo, hi in zip(result.dates, result.point, result.lower, result.upper, strict=True):
        table.add_row(d, f"{p:.4g}", f"{lo:.4g}", f"{hi:.4g}")
    console.print(table)
    if plot is not None:
        console.print(f"plot written to {plot}")


def backtest(
    run: Annotated[Path, typer.Argument(help="A run directory from rnnkit train forecast.")],
    origins: Annotated[int, typer.Option(help="Rolling origins (blocks after the training part).")] = 5,
    refit: Annotated[
        bool, typer.Option(help="Retrain on all rows before each block (slow, the honest one).")
    ] = False,
    data: Annotated[
        Path | None, typer.Option(help="Backtest on this file instead of the run's data.")
    ] = None,
    threads: Annotated[int, typer.Option(help="torch threads.")] = 1,
) -> None:
    """Rolling-origin evaluation: metrics per block, then their mean and spread."""
    _setup(threads)
    rundir.open_run(run, "forecast")
    forecaster = Forecaster.load(run)
    series = load_data(forecaster.config, str(data) if data is not None else None)
    report = run_backtest(forecaster, series, origins, refit=refit, on_progress=console.print)
    report["command"] = _command_line()
    rundir.write_json_atomic(run / BACKTEST_FILE, report)
    table = Table(title=f"backtest: {origins} rolling origins, horizon {report['horizon']}, refit={refit}")
    for col in ("method", "MASE mean", "MASE std", "MASE min..max", "MAE mean", "MAE std", "net better in"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for name, s in report["summary"].items():
        wins = report["network_beats"].get(name)
        table.add_row(
            name,
            f"{s['mase']['mean']:.3f}",
            f"{s['mase']['std']:.3f}",
            f"{s['mase']['min']:.3f}..{s['mase']['max']:.3f}",
            f"{s['mae']['mean']:.4g}",
            f"{s['mae']['std']:.3g}",
            "-" if wins is None else f"{wins}/{origins}",
        )
    console.print(table)
    console.print(f"written to {run / BACKTEST_FILE}")
