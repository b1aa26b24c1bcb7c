"""Results tables and plots of a forecasting run (history, forecast, interval; test origins)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnkit.models.plotting import new_figure, save_png

if TYPE_CHECKING:
    from rnnkit.tasks.forecasting.config import ForecastConfig
    from rnnkit.tasks.forecasting.model import Forecast


METRIC_COLUMNS = ("mae", "rmse", "smape", "mase", "directional_accuracy", "coverage")


def results_table(results: dict[str, Any], cfg: ForecastConfig) -> list[list[str]]:
    """Rows [method, MAE, RMSE, sMAPE, MASE, direction, coverage] as strings ("-" = not defined)."""
    labels = {
        "seasonal_naive": f"seasonal naive (m={cfg.season})",
        "arima": f"ARIMA{tuple(cfg.arima_order)}",
        "ets": "ETS (damped trend)",
        "naive": "naive (last value)",
        "network": f"{cfg.cell.upper()} {cfg.strategy} ({cfg.likelihood})",
    }
    rows = []
    for name, m in results["methods"].items():
        cells = [labels.get(name, name)]
        for key in METRIC_COLUMNS:
            v = m.get(key)
            cells.append(
                "-"
                if v is None
                else (f"{100 * v:.1f}%" if key in ("directional_accuracy", "coverage") else f"{v:.4g}")
            )
        rows.append(cells)
    return rows


def results_markdown(results: dict[str, Any], cfg: ForecastConfig) -> str:
    head = ["method", "MAE", "RMSE", "sMAPE", "MASE", "direction", f"coverage ({cfg.interval_level:.0%})"]
    lines = [
        f"Forecast of {cfg.target!r} from {cfg.data!r}, horizon {cfg.horizon}, test rows {results['rows']} "
        f"({results['origins']} origins). MASE scale (training naive MAE) = {results['mase_scale']:.4g}"
        + (": MASE is undefined, the training series is constant." if results["mase_scale"] == 0 else "."),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in results_table(results, cfg)]
    return "\n".join(lines) + "\n"


def public(results: dict[str, Any]) -> dict[str, Any]:
    """The JSON-able part of :meth:`Forecaster.evaluate`'s result (arrays dropped)."""
    return {k: v for k, v in results.items() if not k.startswith("_")}


def plot_forecast(
    forecast: Forecast, path: str | os.PathLike[str], truth: Sequence[float] | None = None
) -> Path:
    """History, point forecast and the shaded interval, to a PNG."""
    fig = new_figure(9.0, 3.6)
    ax = fig.subplots()
    hd = np.asarray(forecast.history_dates, dtype="datetime64[s]")
    fd = np.asarray(forecast.dates, dtype="datetime64[s]")
    ax.plot(hd, forecast.history, color="0.3", lw=1, label="history")
    # The forecast line and band start at the last observation, so history and forecast read
    # as one curve (the first forecast step is not left floating one step to the right).
    fx = np.concatenate([hd[-1:], fd]) if len(hd) else fd
    last = list(forecast.history[-1:])
    ax.plot(fx, last + list(forecast.point), color="C0", lw=1.5, label="forecast")
    ax.plot(fd, forecast.point, color="C0", lw=0, marker=".")
    ax.fill_between(
        fx, last + list(forecast.lower), last + list(forecast.upper), color="C0", alpha=0.25,
        label=f"{forecast.level:.0%} interval",
    )  # fmt: skip
    if truth is not None:
        ax.plot(fd, truth, color="C3", lw=1, marker="x", label="actual")
    ax.set_title(f"{forecast.target}: {len(fd)}-step forecast")
    ax.set_xlabel("date")
    ax.set_ylabel(forecast.target)
    ax.grid(alpha=0.3)
    # Outside the axes: inside, "upper left" covered the start of the history.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)
    return save_png(fig, path)


def plot_test(results: dict[str, Any], path: str | os.PathLike[str], steps: int = 150) -> Path:
    """The last ``steps`` test origins: truth, the network's 1-step-ahead forecast and interval,
    and the forecast of the last origin over the whole horizon."""
    arr, dates, y = results["_arrays"], results["_dates"], results["_y"]
    origins = arr["origins"][-steps:]
    fig = new_figure(9.0, 3.6)
    ax = fig.subplots()
    ax.plot(dates[origins], y[origins], color="0.3", lw=1, label="actual")
    ax.plot(dates[origins], arr["pred_point"][-steps:, 0], color="C0", lw=1, label="network, 1 step ahead")
    ax.fill_between(
        dates[origins],
        arr["pred_lower"][-steps:, 0],
        arr["pred_upper"][-steps:, 0],
        color="C0",
        alpha=0.2,
        label=f"{results['level']:.0%} interval",
    )
    H = results["horizon"]
    if H > 1:
        last = origins[-1]
        ax.plot(
            dates[last : last + H],
            arr["pred_point"][-1],
            color="C1",
            marker=".",
            lw=1.5,
            label=f"last origin, {H} steps",
        )
    m = results["methods"]["network"]
    naive_mase = results["methods"].get("naive", {}).get("mase")
    if m["mase"] is None or naive_mase is None:
        ax.set_title(
            f"test: MAE {m['mae']:.4g} (MASE undefined: constant training series), "
            f"coverage {m['coverage']:.0%}"
        )
    else:
        ax.set_title(f"test: MASE {m['mase']:.3f} (naive {naive_mase:.3f}), coverage {m['coverage']:.0%}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return save_png(fig, path)
