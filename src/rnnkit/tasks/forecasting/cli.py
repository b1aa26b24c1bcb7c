"""The forecasting task's use commands: ``rnnkit forecast`` and ``rnnkit backtest``.

    rnnkit forecast runs/fc --plot forecast.png [--data new.csv] [--json] [--history N]
    rnnkit backtest runs/fc --origins 5 [--refit]

No torch at import time (``rnnkit --help`` imports this module): the work is imported inside.
This file only parses options, prints tables and writes files; the numbers come from
:mod:`rnnkit.tasks.forecasting`.
"""

from __future__ import annotations

import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rnnkit.config import positive_int
from rnnkit.tasks import runs
from rnnkit.tasks.tables import print_table
from rnnkit.utils.io import atomic_write_json

BACKTEST_FILE = "backtest.json"


def _console() -> Any:
    from rich.console import Console  # imported when printing: `rnnkit --help` stays light

    return Console()


def _setup(threads: int) -> None:
    """Forecasting's notes (resampling, interpolation, the season) are shown; torch uses ``threads``."""
    import torch

    logging.getLogger("rnnkit").setLevel(logging.INFO)  # rnnkit.cli.main sends them to stderr
    positive_int("threads", threads)
    # Small recurrent nets are latency-bound: on a shared 2-core machine one thread was
    # 40x faster per step than two (thread hand-offs dominate a 32-unit LSTM step).
    torch.set_num_threads(threads)


def _command_line() -> str:
    return "rnnkit " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def report(metrics: dict[str, Any], options: Any) -> None:
    """After ``rnnkit train forecast``: the test table (results.md) and the verdict against naive."""
    from rnnkit.tasks.forecasting.training import RESULTS_FILE

    results = Path(options.out) / RESULTS_FILE
    if results.exists():
        _console().print(results.read_text(encoding="utf-8"), markup=False, soft_wrap=True)
    methods = metrics.get("test", {}).get("methods", {})
    net, naive = methods.get("network"), methods.get("naive")
    if net is None or naive is None:
        return
    # MASE is None when undefined (a constant training series): compare MAE then, and say why.
    key, why = ("mase", "") if net["mase"] is not None else ("mae", "; MASE is undefined")
    verdict = "beats" if net[key] < naive[key] else "does not beat"
    fmt = ".3f" if key == "mase" else ".4g"
    _console().print(
        f"The network {verdict} the naive forecast "
        f"({key.upper()} {net[key]:{fmt}} vs {naive[key]:{fmt}}{why}).",
        soft_wrap=True,
    )


def forecast(
    run: Annotated[Path, typer.Argument(help="A run directory from rnnkit train forecast.")],
    data: Annotated[
        Path | None,
        typer.Option(help="Forecast from the end of this file (same columns) instead of the run's data."),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(help="Write history, forecast and interval to this figure (.png, .svg, .pdf, .jpg)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the forecast as JSON.")] = False,
    history: Annotated[int, typer.Option(help="Past points kept in the plot and the JSON.")] = 120,
    threads: Annotated[int, typer.Option(help="torch threads.")] = 1,
) -> None:
    """Forecast the next H steps with a prediction interval (and plot them)."""
    from rich.table import Table

    from rnnkit.tasks.forecasting import Forecaster, load_data, plot_forecast

    positive_int("history", history)  # before anything loads: 0 or -5 would slice the wrong way
    _setup(threads)
    runs.open_run(run, "forecast")
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
    print_table(table)
    if plot is not None:
        _console().print(f"plot written to {plot}")


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
    from rich.table import Table

    from rnnkit.tasks.forecasting import Forecaster, load_data
    from rnnkit.tasks.forecasting import backtest as run_backtest

    _setup(threads)
    runs.open_run(run, "forecast")
    forecaster = Forecaster.load(run)
    series = load_data(forecaster.config, str(data) if data is not None else None)
    report = run_backtest(forecaster, series, origins, refit=refit, on_progress=_console().print)
    report["command"] = _command_line()
    atomic_write_json(run / BACKTEST_FILE, report, sort_keys=True)
    table = Table(title=f"backtest: {origins} rolling origins, horizon {report['horizon']}, refit={refit}")
    for col in ("method", "MASE mean", "MASE std", "MASE min..max", "MAE mean", "MAE std", "net better in"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for name, s in report["summary"].items():
        wins = report["network_beats"].get(name)
        m = s.get("mase")  # absent when MASE is undefined (a constant training series)
        table.add_row(
            name,
            "-" if m is None else f"{m['mean']:.3f}",
            "-" if m is None else f"{m['std']:.3f}",
            "-" if m is None else f"{m['min']:.3f}..{m['max']:.3f}",
            f"{s['mae']['mean']:.4g}",
            f"{s['mae']['std']:.3g}",
            "-" if wins is None else f"{wins}/{origins}",
        )
    print_table(table)
    _console().print(f"written to {run / BACKTEST_FILE}")


COMMANDS = {"forecast": forecast, "backtest": backtest}
