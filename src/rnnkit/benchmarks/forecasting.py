"""Forecasting beside the cheap baselines: Seattle weather, NYC hourly weather, AAPL.

For each case: train on the 70% training part (early stopping on the next 15%), score
on the last 15% from every origin, on the same origins as naive (persistence / random
walk), seasonal naive, drift, ARIMA(2,1,1) and ETS; then a 5-origin rolling backtest
(mean and spread). Results: bench/results/forecast-<case>.json, plus the test plot and
a forecast plot per case.

    .venv/bin/python bench/forecasting.py [--case seattle-h1|seattle-h7|nyc-h24|aapl-h5 ...]
        [--refit-backtest]   # retrain before each backtest block (5 trainings per case)

One torch thread: on the shared 2-core machine, small LSTMs ran 40x faster per step
with one thread than with two.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from typing import Any

import torch

from rnnkit.benchmarks.common import RESULTS, environment, write_json
from rnnkit.tasks.forecasting import (
    ForecastConfig,
    backtest,
    load_data,
    plot_forecast,
    plot_test,
    public,
    results_markdown,
    train,
)

SEATTLE = {
    "data": "seattle_weather",
    "target": "temp_max",
    "covariates": ["temp_min", "precipitation", "wind"],
    "lookback": 30,
    "season": 365,  # the seasonal naive of daily weather is "the same day last year"
    "epochs": 40,
}
CASES: dict[str, dict[str, Any]] = {
    "seattle-h1": {**SEATTLE, "horizon": 1},
    "seattle-h7": {**SEATTLE, "horizon": 7},
    "nyc-h24": {
        "data": "nyc_weather:JFK",
        "target": "temp",
        "covariates": ["dewp", "humid", "wind_dir", "wind_speed", "precip", "pressure", "visib"],
        "horizon": 24,
        "lookback": 48,
        "season": 24,
        "units": 64,
        "epochs": 15,
        "batch_size": 128,
    },
    "aapl-h5": {"data": "stocks:AAPL", "target": "close", "horizon": 5, "lookback": 30, "epochs": 30},
}


def verdict(case: str, res: dict[str, Any]) -> str:
    m = res["methods"]
    net, naive = m["network"], m["naive"]
    if case.startswith("aapl"):
        beats = net["mase"] < naive["mase"]
        return (
            f"The network {'beats' if beats else 'does NOT beat'} the random walk at horizon 5: "
            f"MASE {net['mase']:.3f} vs {naive['mase']:.3f} (MAE ${net['mae']:.2f} vs ${naive['mae']:.2f}); "
            f"directional accuracy {100 * (net['directional_accuracy'] or 0):.1f}% (a coin is 50%)."
        )
    others = ", ".join(f"{k} {v['mase']:.3f}" for k, v in m.items() if k != "network")
    return f"network MASE {net['mase']:.3f} (MAE {net['mae']:.3f}); {others}"


def run_case(case: str, refit: bool) -> dict[str, Any]:
    cfg = ForecastConfig.from_dict(dict(CASES[case]))
    t0 = time.perf_counter()
    forecaster, res = train(cfg)
    train_s = time.perf_counter() - t0
    series = load_data(forecaster.config)
    plot_test(res, RESULTS / f"forecast-{case}-test.png")
    plot_forecast(forecaster.forecast(series, history=120), RESULTS / f"forecast-{case}-future.png")
    t1 = time.perf_counter()
    bt = backtest(forecaster, series, 5, refit=refit)
    out = {
        "case": case,
        "command": "rnnkit train forecast "
        + " ".join(
            f"--{k.replace('_', '-')} {shlex.quote(','.join(v) if isinstance(v, list) else str(v))}"
            for k, v in CASES[case].items()
        ),
        "bench_command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "config": forecaster.config.to_dict(),
        "test": public(res),
        "table": results_markdown(res, forecaster.config),
        "verdict": verdict(case, res),
        "epochs_run": len(forecaster.history.history["loss"]),
        "train_seconds": round(train_s, 1),
        "backtest": {k: v for k, v in bt.items() if k != "blocks"},
        "backtest_blocks": [{"rows": b["rows"], "origins": b["origins"]} for b in bt["blocks"]],
        "backtest_seconds": round(time.perf_counter() - t1, 1),
        "environment": environment(),
    }
    write_json(f"forecast-{case}.json", out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--refit-backtest", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for case in args.case:
        out = run_case(case, args.refit_backtest)
        print(out["table"])
        print(out["verdict"])
        s = out["backtest"]["summary"]
        print(
            "backtest (5 origins) MASE mean +- std: "
            + ", ".join(f"{k} {v['mase']['mean']:.3f}+-{v['mase']['std']:.3f}" for k, v in s.items())
        )
        print(f"train {out['train_seconds']}s, backtest {out['backtest_seconds']}s\n", flush=True)


if __name__ == "__main__":
    main()
