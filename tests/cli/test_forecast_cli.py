"""`rnnkit train forecast`, `rnnkit forecast`, `rnnkit backtest`, in process, on a small CSV."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from rnnkit.cli.main import app, main

runner = CliRunner()


@pytest.fixture(autouse=True, scope="module")
def _restore_threads():
    before = torch.get_num_threads()  # the commands set torch's thread count (--threads 1)
    yield
    torch.set_num_threads(before)


def write_csv(path, n: int = 200, covariate: bool = True):
    t = np.arange(n)
    frame = pd.DataFrame(
        {
            "day": pd.date_range("2021-03-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "load": 50 + 5 * np.sin(2 * np.pi * t / 7) + np.random.default_rng(0).normal(0, 0.5, n),
            "temp": 10 + np.cos(2 * np.pi * t / 30),
        }
    )
    if not covariate:
        frame = frame.drop(columns="temp")
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fc")
    csv = write_csv(tmp / "load.csv")
    out = tmp / "run"
    args = ["train", "forecast", "--data", str(csv), "--date-column", "day", "--target", "load"]
    args += ["--covariates", "temp", "--horizon", "3", "--lookback", "14", "--epochs", "3"]
    args += ["--baselines", "naive,seasonal_naive,drift,arima", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "ARIMA" in result.output and "MASE" in result.output  # rich wraps long names at 80 columns
    table = (out / "results.md").read_text()
    assert "| naive (last value) |" in table and "| ARIMA(2, 1, 1) |" in table
    return out


def test_train_writes_the_run_directory(run_dir):
    for name in (
        "run.json",
        "model.safetensors",
        "forecaster.json",
        "metrics.json",
        "results.md",
        "history.csv",
    ):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "test-forecast.png").stat().st_size > 1000
    metrics = json.loads((run_dir / "metrics.json").read_text())
    methods = metrics["test"]["methods"]
    assert set(methods) == {"network", "naive", "seasonal_naive", "drift", "arima"}
    assert 0 <= methods["network"]["coverage"] <= 1 and metrics["command"].startswith("rnnkit ")
    assert metrics["config"]["season"] == 7 and metrics["config"]["transform"] == "delta"


def test_forecast_json_and_plot(run_dir, tmp_path):
    plot = tmp_path / "forecast.png"
    result = runner.invoke(app, ["forecast", str(run_dir), "--json", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["dates"] == ["2021-09-17T00:00:00", "2021-09-18T00:00:00", "2021-09-19T00:00:00"]
    assert all(lo <= p <= hi for lo, p, hi in zip(out["lower"], out["point"], out["upper"], strict=True))
    assert plot.stat().st_size > 1000


def test_forecast_from_new_data(run_dir, tmp_path):
    csv = write_csv(tmp_path / "new.csv", n=40)
    result = runner.invoke(app, ["forecast", str(run_dir), "--data", str(csv)])
    assert result.exit_code == 0, result.output
    assert "2021-04-10" in result.output  # the day after the new file ends


def test_backtest_prints_mean_and_spread(run_dir):
    result = runner.invoke(app, ["backtest", str(run_dir), "--origins", "5"])
    assert result.exit_code == 0, result.output
    report = json.loads((run_dir / "backtest.json").read_text())
    assert len(report["blocks"]) == 5 and "MASE std" in result.output
    # Piped output (80 columns) never cuts a number short with an ellipsis.
    assert "…" not in result.output
    net = report["summary"]["network"]["mase"]
    assert f"{net['min']:.3f}..{net['max']:.3f}" in result.output


def _exit(monkeypatch, capsys, argv):
    monkeypatch.setattr(sys, "argv", ["rnnkit", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    return info.value.code, capsys.readouterr().err.strip()


def test_horizon_zero_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path):
    argv = ["train", "forecast", "--data", "x.csv", "--target", "a", "--horizon", "0", "--out", str(tmp_path)]
    code, err = _exit(monkeypatch, capsys, argv)
    assert code == 2 and err == "error: horizon=0 is not valid: expected an integer >= 1."


def test_too_few_rows_is_one_line(monkeypatch, capsys, tmp_path):
    csv = write_csv(tmp_path / "short.csv", n=12, covariate=False)
    argv = ["train", "forecast", "--data", str(csv), "--date-column", "day", "--target", "load"]
    code, err = _exit(
        monkeypatch, capsys, [*argv, "--lookback", "10", "--horizon", "5", "--out", str(tmp_path / "r")]
    )
    assert code == 2
    assert err.splitlines()[-1] == (
        "error: the series has 12 rows, too few to train: the training part (70% of the rows, before "
        "validation and test) needs lookback=10 + horizon=5 = 15, so the series needs at least 21 rows."
    )


@pytest.mark.parametrize("history", ["0", "-5"])
def test_history_below_one_is_refused(monkeypatch, capsys, run_dir, history):
    code, err = _exit(monkeypatch, capsys, ["forecast", str(run_dir), "--json", "--history", history])
    assert code == 2 and err == f"error: history={history} is not valid: expected an integer >= 1."


def test_forecast_of_a_missing_run(monkeypatch, capsys, tmp_path):
    code, err = _exit(monkeypatch, capsys, ["forecast", str(tmp_path / "nope")])
    assert code == 2 and "does not exist: train one first" in err


def test_a_constant_series_trains_and_says_mase_is_undefined(tmp_path):
    """Issue 20 item 6: the verdict compared MASE None < None and crashed after training."""
    days = pd.date_range("2021-03-01", periods=80, freq="D").strftime("%Y-%m-%d")
    pd.DataFrame({"day": days, "load": 5.0}).to_csv(tmp_path / "const.csv", index=False)
    args = ["train", "forecast", "--data", str(tmp_path / "const.csv"), "--date-column", "day"]
    args += ["--target", "load", "--horizon", "2", "--lookback", "7", "--epochs", "1", "--quiet"]
    result = runner.invoke(app, [*args, "--baselines", "naive", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "MASE is undefined, the training series is constant" in result.output
    assert "the naive forecast (MAE " in result.output and "; MASE is undefined)." in result.output


def test_a_bad_value_is_named_by_its_file_and_line(monkeypatch, capsys, tmp_path):
    """Issue 20 item 17: errors about a file say which file and which line (the header is line 1)."""
    csv = write_csv(tmp_path / "load.csv", n=40, covariate=False)
    lines = csv.read_text().splitlines()
    lines[5] = lines[5].split(",")[0] + ",n/a"
    csv.write_text("\n".join(lines) + "\n")
    argv = ["train", "forecast", "--data", str(csv), "--date-column", "day", "--target", "load"]
    code, err = _exit(monkeypatch, capsys, [*argv, "--out", str(tmp_path / "r")])
    assert code == 2 and err.splitlines()[-1] == (
        f"error: {str(csv)!r}: column 'load' is not numeric: 1 value(s) are not numbers, at line 6 ('n/a')."
    )


def test_evaluate_scores_a_forecast_run_and_refuses_an_unknown_split(monkeypatch, capsys, run_dir):
    # The generic `rnnkit evaluate` calls predictor.evaluate(split); Forecaster.evaluate took a
    # series first and crashed with an AttributeError traceback.
    result = runner.invoke(app, ["evaluate", str(run_dir), "--split", "validation", "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["origins"] > 0 and metrics["network_mae"] >= 0 and "naive_mae" in metrics
    code, err = _exit(monkeypatch, capsys, ["evaluate", str(run_dir), "--split", "nope"])
    assert code == 2 and err == "error: split='nope' is not valid: expected train or validation or test."
