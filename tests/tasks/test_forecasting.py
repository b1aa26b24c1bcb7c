"""Forecasting: no leakage, baselines and metrics by hand, learning, reproducibility, saving, errors."""

from __future__ import annotations

import logging
import math
import re

import numpy as np
import pandas as pd
import pytest
import torch

from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks.forecasting import (
    ForecastConfig,
    Forecaster,
    SeriesData,
    backtest,
    clean_frame,
    plot_forecast,
    plot_test,
    resolve,
    train,
)
from rnnkit.tasks.forecasting import baselines as bl
from rnnkit.tasks.forecasting.metrics import GaussianNLL, Pinball, directional_accuracy, naive_scale, smape

FAST = {"units": 16, "epochs": 25, "batch_size": 32, "lookback": 24, "baselines": ["naive", "drift"]}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Small LSTMs are latency-bound: one thread avoids oversubscribing a shared 2-core machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def synthetic(n: int = 360, noise: float = 0.3, seed: int = 0) -> SeriesData:
    """Sine (period 12) + trend + Gaussian noise, one row per day."""
    t = np.arange(n)
    y = 10 + 0.02 * t + 3 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(seed).normal(0, noise, n)
    dates = np.datetime64("2020-01-01") + t.astype("timedelta64[D]")
    return SeriesData(dates.astype("datetime64[s]"), y, np.zeros((n, 0)), "y", [], "D")


def fitted(series: SeriesData, **kw) -> tuple[Forecaster, dict]:
    cfg = ForecastConfig.from_dict({"data": "synthetic.csv", "horizon": 5, **FAST, **kw})
    return train(cfg, series=series)


@pytest.fixture(scope="module")
def trained() -> tuple[Forecaster, dict, SeriesData]:
    series = synthetic()
    # diff: the network reads and predicts changes, so the trend needs no extrapolation of levels
    fc, res = fitted(series, season=12, transform="diff")
    return fc, res, series


# ----------------------------------------------------------------------------- leakage
@pytest.mark.parametrize("transform", ["level", "delta", "log_return"])
def test_windows_never_read_the_future(transform):
    """y = row number: every input a window reads is older than its first target."""
    n = 80
    series = SeriesData(
        (np.datetime64("2021-01-01") + np.arange(n).astype("timedelta64[D]")).astype("datetime64[s]"),
        np.arange(1, n + 1, dtype=np.float64),
        np.arange(n, dtype=np.float64)[:, None] * 2,  # a covariate that also encodes the row
        "y",
        ["x2"],
        "D",
    )
    fc = Forecaster(
        ForecastConfig(
            data="x.csv", lookback=7, horizon=3, transform=transform, calendar=[], covariates=["x2"]
        )
    )
    tseries, inputs, g = fc.features(series)
    fc.input_scaler.mean_, fc.input_scaler.scale_ = np.zeros(inputs.shape[1]), np.ones(inputs.shape[1])
    X, C, anchors, origins = fc.windows(inputs, g, slice(10, 60))
    rows_read = X[..., 1] / 2  # the covariate column holds 2 x the original row
    first_target_row = origins + (len(series) - len(tseries))
    assert (rows_read.max(axis=1) < first_target_row).all()
    assert (rows_read.max(axis=1) == first_target_row - 1).all()  # and the newest row is used
    y_true = tseries.y[origins[:, None] + np.arange(3)]
    from rnnkit.tasks.forecasting import inverse_transform

    np.testing.assert_allclose(inverse_transform(C, anchors, transform), y_true)


# ----------------------------------------------------------------------------- baselines and metrics
def test_baselines_by_hand():
    y = np.arange(1.0, 11.0)
    o = np.array([4, 6])
    np.testing.assert_array_equal(bl.naive(y, o, 3), [[4, 4, 4], [6, 6, 6]])
    # season 3: from origin 4 the last season is y[1:4] = 2, 3, 4
    np.testing.assert_array_equal(bl.seasonal_naive(y, o, 4, 3), [[2, 3, 4, 2], [4, 5, 6, 4]])
    np.testing.assert_allclose(bl.drift(y, o, 2), [[5, 6], [7, 8]])  # a straight line continues


def test_arima_multi_origin_equals_refiltering_each_prefix():
    rng = np.random.default_rng(1)
    y = np.cumsum(rng.normal(size=120)) + 5 * np.sin(np.arange(120) / 4)
    res = bl.fit_arima(y[:90], (2, 1, 1))
    origins = np.array([90, 115])
    fast = bl.state_space_forecasts(res, y, origins, 5)
    for i, t in enumerate(origins):
        np.testing.assert_allclose(fast[i], res.apply(y[:t]).forecast(5), rtol=1e-9, atol=1e-9)


def test_metrics_by_hand():
    y, y_hat = np.array([[1.0, -1.0]]), np.array([[3.0, -1.0]])
    assert smape(y, y_hat) == pytest.approx(100 * (2 * 2 / 4 + 0) / 2)
    assert naive_scale(np.array([0.0, 2, 1, 3])) == pytest.approx((2 + 1 + 2) / 3)
    assert directional_accuracy(np.array([[2.0, 0]]), np.array([[1.5, 1.5]]), np.array([1.0])) == 0.5
    assert directional_accuracy(np.array([[2.0]]), np.array([[1.0]]), np.array([1.0])) is None


def test_gaussian_nll_matches_torch_and_pinball_by_hand():
    y = torch.tensor([[0.3, -1.0]])
    raw = torch.tensor([[[0.1, 0.2], [-0.5, 1.0]]])
    sigma = torch.nn.functional.softplus(raw[..., 1]) + 1e-3
    ref = torch.nn.GaussianNLLLoss(full=True, reduction="mean")(raw[..., 0], y, sigma**2)
    assert float(GaussianNLL()(y, raw)) == pytest.approx(float(ref), rel=1e-6)
    q = torch.tensor([[[0.0, 1.0]]])  # quantiles 0.1 and 0.9 at y = 0.5
    assert float(Pinball([0.1, 0.9])(torch.tensor([[0.5]]), q)) == pytest.approx((0.1 * 0.5 + 0.1 * 0.5) / 2)


# ----------------------------------------------------------------------------- learning
def test_sine_trend_noise_is_learned_to_low_error(trained):
    _, res, _ = trained
    net, naive = res["methods"]["network"], res["methods"]["naive"]
    assert net["mae"] < 0.45  # noise sd 0.3: its MAE floor is 0.24
    assert net["mae"] < 0.35 * naive["mae"]
    assert net["mase"] < naive["mase"]
    assert 0.5 < net["coverage"] <= 1.0


def test_forecast_is_reproducible_with_a_seed():
    series = synthetic(200)
    a, _ = fitted(series, epochs=2, seed=3)
    b, _ = fitted(series, epochs=2, seed=3)
    c, _ = fitted(series, epochs=2, seed=4)
    assert a.forecast(series).point == b.forecast(series).point
    assert a.forecast(series).point != c.forecast(series).point


def test_fit_save_load_predict_is_identical(trained, tmp_path):
    fc, _, series = trained
    fc.save(tmp_path)
    again = Forecaster.load(tmp_path)
    assert again.forecast(series).to_dict() == fc.forecast(series).to_dict()


def test_plots_are_written(trained, tmp_path):
    fc, res, series = trained
    for path in (plot_forecast(fc.forecast(series), tmp_path / "f.png"), plot_test(res, tmp_path / "t.png")):
        assert path.stat().st_size > 1000 and path.read_bytes()[:4] == b"\x89PNG"


def test_forecast_plot_joins_the_history_and_keeps_the_legend_off_it(trained, tmp_path, monkeypatch):
    from rnnkit.tasks.forecasting import report

    figures = []
    monkeypatch.setattr(report, "save_png", lambda fig, path: figures.append(fig) or path)
    fc, _, series = trained
    f = fc.forecast(series, history=30)
    report.plot_forecast(f, tmp_path / "f.png")
    (ax,) = figures[0].axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    x, y = lines["forecast"].get_data()
    # the forecast line starts at the last observation ...
    assert np.datetime64(x[0], "s") == np.datetime64(f.history_dates[-1]) and y[0] == f.history[-1]
    assert list(y[1:]) == f.point
    # ... and the legend sits right of the axes, never over the history
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1
    assert ax.get_xlabel() == "date" and ax.get_ylabel() == f.target


def test_interval_contains_the_point_and_future_dates_follow(trained):
    fc, _, series = trained
    f = fc.forecast(series)
    assert len(f.point) == 5 and f.dates[0] == "2020-12-26T00:00:00"
    assert all(lo <= p <= hi for lo, p, hi in zip(f.lower, f.point, f.upper, strict=True))


@pytest.mark.parametrize("kw", [{"strategy": "autoregressive", "samples": 20}, {"likelihood": "quantile"}])
def test_autoregressive_and_quantile_heads_run(kw):
    series = synthetic(160)
    fc, res = fitted(series, epochs=2, **kw)
    f = fc.forecast(series)
    assert all(lo <= hi for lo, hi in zip(f.lower, f.upper, strict=True))
    assert 0 <= res["methods"]["network"]["coverage"] <= 1


def test_backtest_reports_mean_and_spread(trained):
    fc, _, series = trained
    rep = backtest(fc, series, 5)
    assert len(rep["blocks"]) == 5
    s = rep["summary"]["network"]["mase"]
    assert s["min"] <= s["mean"] <= s["max"] and s["std"] >= 0


# ----------------------------------------------------------------------------- real-world data
def frame(n: int = 60, **overrides) -> pd.DataFrame:
    dates = pd.date_range("2022-01-01", periods=n, freq="D").strftime("%Y-%m-%d").tolist()
    values = [str(20 + (i % 7)) for i in range(n)]
    f = pd.DataFrame({"date": dates, "temp": values})
    for i, v in overrides.items():
        f.loc[int(i.removeprefix("r")), "temp"] = v
    return f


def clean(f: pd.DataFrame, **kw) -> SeriesData:
    return clean_frame(f, date_column="date", target="temp", **kw)


def test_irregular_dates_are_resampled_with_a_warning(caplog):
    f = frame(30).drop(index=[5, 6]).reset_index(drop=True)  # two missing days
    with caplog.at_level(logging.WARNING, logger="rnnkit"):
        s = clean(f)
    assert len(s) == 30 and s.frequency == "D"
    assert "resampled to 'D'" in caplog.text and "interpolated 2 missing value(s) in 1 gap(s)" in caplog.text


def test_unsorted_rows_are_sorted_with_a_warning(caplog):
    f = frame(20).iloc[::-1]
    with caplog.at_level(logging.WARNING, logger="rnnkit"):
        s = clean(f)
    assert (np.diff(s.dates.astype(np.int64)) > 0).all() and "sorted them by 'date'" in caplog.text


def test_trading_days_are_kept_as_they_are():
    dates = pd.bdate_range("2022-01-03", periods=30).strftime("%Y-%m-%d")
    s = clean_frame(pd.DataFrame({"date": dates, "p": ["1.5"] * 30}), date_column="date", target="p")
    assert len(s) == 30 and s.frequency == "B"


def test_error_non_numeric_target():
    with pytest.raises(DataError) as e:
        clean(frame(r3="abc"))
    assert str(e.value) == "column 'temp' is not numeric: 1 value(s) are not numbers, at row 4 ('abc')."


def test_error_unparseable_dates():
    f = frame()
    f.loc[2, "date"] = "yesterday"
    with pytest.raises(DataError) as e:
        clean(f)
    assert str(e.value) == "column 'date' has 1 unparseable date(s), at row 3 ('yesterday')."


def test_errors_about_a_file_name_its_lines(tmp_path):
    """Issue 20 item 17: one convention, the line an editor shows (the header is line 1); rows
    of a table given in Python are counted from 1. A blank line and a two-line cell included."""
    from rnnkit.tasks.forecasting.data import read_frame

    path = tmp_path / "s.csv"
    path.write_text('date,y,note\n2021-01-01,1,a\n\n2021-01-02,2,"two\nlines"\n2021-01-03,abc,c\n')
    frame, _, _ = read_frame(str(path))
    with pytest.raises(DataError) as e:
        clean_frame(frame, date_column="date", target="y")
    assert str(e.value) == "column 'y' is not numeric: 1 value(s) are not numbers, at line 6 ('abc')."
    path.write_text("date,y\n2021-01-01,1\n2021-01-02,inf\n")
    with pytest.raises(DataError, match=r"at line 3 \('inf'\)\.$"):
        clean_frame(read_frame(str(path))[0], date_column="date", target="y")
    # Unreadable files are named too (pandas said "Error tokenizing data" or a codec error).
    path.write_text("date,y\n2021-01-01,1\n2021-01-02,2,3\n")
    with pytest.raises(DataError) as e:
        read_frame(str(path))
    assert str(e.value) == f"{str(path)!r} line 3 has 3 fields but the header has 2."
    path.write_bytes(b"date,y\n2021-01-01,\xff\n")
    with pytest.raises(DataError, match=rf"^{re.escape(repr(str(path)))} is not valid UTF-8: .*\(line 2\)"):
        read_frame(str(path))


def test_error_run_of_missing_values_names_the_dates():
    with pytest.raises(DataError) as e:
        clean(frame(r10="", r11="NA", r12="", r13=""))
    assert str(e.value) == (
        "column 'temp' has a run of 4 missing value(s) from 2022-01-11 00:00:00 to 2022-01-14 00:00:00: "
        "only gaps of at most max_gap=3 inside the series are interpolated. Fill or drop those rows."
    )


def test_error_missing_refused_when_asked():
    with pytest.raises(DataError, match=r"^column 'temp' has 1 missing value\(s\) at 2022-01-06 00:00:00 "):
        clean(frame(r5=""), missing="refuse")


def test_error_unknown_column():
    with pytest.raises(DataError) as e:
        clean_frame(frame(), date_column="date", target="tmax")
    assert str(e.value) == "column 'tmax' not found: the columns are 'date', 'temp'."


def test_error_too_few_rows():
    series = synthetic(30)
    with pytest.raises(DataError) as e:
        fitted(series, horizon=10, lookback=24)
    assert str(e.value) == (
        "the series has 30 rows, too few to train: the training part (70% of the rows, before validation "
        "and test) needs lookback=24 + horizon=10 = 34, so the series needs at least 48 rows."
    )
    # Forecasting needs only the lookback (one row more to read the first change): said so.
    fc = Forecaster(ForecastConfig(data="x.csv", lookback=24, horizon=10, transform="diff", calendar=[]))
    with pytest.raises(DataError) as e:
        fc.forecast(synthetic(20))
    assert str(e.value) == (
        "the series has 20 rows: a forecast reads the last lookback=24 + 1 (the first change needs the row "
        "before it), so it needs at least 25."
    )


def test_train_and_forecast_say_the_row_counts_they_really_need():
    """Issue 20 item 17: train said it needed lookback + horizon rows, then refused 20 of them
    because its training part (70%) held only 14; the count it states is now the one fit accepts."""
    kw = {"horizon": 3, "lookback": 14, "epochs": 1, "transform": "diff", "calendar": [], "baselines": []}
    fc = Forecaster(ForecastConfig.from_dict({"data": "x.csv", **FAST, **kw}))
    need = fc.rows_to_train()
    assert need == 24  # 23 changes: 17 train + 3 validation + 3 test (lookback + horizon = 17 would not do)
    refused = rf"^the series has {need - 1} rows, too few to train: .* at least {need} rows\.$"
    with pytest.raises(DataError, match=refused):
        fitted(synthetic(need - 1), **kw)
    fitted(synthetic(need), **kw)


def test_error_horizon_zero():
    with pytest.raises(ConfigError) as e:
        ForecastConfig.from_dict({"horizon": 0})
    assert str(e.value) == "horizon=0 is not valid: expected an integer >= 1."


def test_error_unknown_config_key():
    with pytest.raises(ConfigError, match=r"^config key='horizn' is not valid: expected one of"):
        ForecastConfig.from_dict({"horizn": 3})


def test_error_log_returns_of_a_non_positive_series():
    s = synthetic(100)
    s.y[4] = -1.0
    with pytest.raises(DataError) as e:
        fitted(s, transform="log_return", epochs=1)
    assert str(e.value) == (
        "transform='log_return' needs a positive target: column 'y' has 1 value(s) <= 0 "
        "at 2020-01-05T00:00:00."
    )


def test_resolve_defaults_by_data():
    s = synthetic(50)
    cfg = resolve(ForecastConfig(data="stocks:AAPL"), s)
    assert cfg.transform == "log_return" and cfg.season == 7 and cfg.calendar == ["dayofweek"]
    hourly = resolve(ForecastConfig(data="x.csv"), SeriesData(s.dates, s.y, s.covariates, "y", [], "h"))
    assert hourly.transform == "delta" and hourly.season == 24 and "hour" in (hourly.calendar or [])
    assert not math.isnan(cfg.interval_level)


# ------------------------------------------------------------------ issue 20: wrong results
def test_mase_is_undefined_on_a_constant_training_series():
    from rnnkit.tasks.forecasting.metrics import mase, point_metrics

    scale = naive_scale(np.full(50, 3.0))
    assert scale == 0.0
    assert mase(np.ones((2, 3)), np.zeros((2, 3)), scale) is None  # was MAE / 1.0, printed as a MASE
    assert point_metrics(np.ones((2, 3)), np.zeros((2, 3)), scale=scale)["mase"] is None


@pytest.mark.parametrize(("value", "shown"), [("inf", "'inf'"), ("1e300", "'1e300'"), ("-inf", "'-inf'")])
def test_infinite_or_overflowing_values_are_refused_naming_the_row(value, shown):
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2021-01-01", periods=6, freq="D").astype(str),
            "y": ["1", "2", value, "4", "5", "6"],
        }
    )
    with pytest.raises(DataError) as err:
        clean_frame(frame, date_column="date", target="y")
    assert str(err.value) == (
        "column 'y' has 1 value(s) that are infinite or beyond +-1e+150 (their squares overflow), "
        f"at row 3 ({shown})."
    )
    numeric = frame.assign(y=[1.0, 2.0, float(value), 4.0, 5.0, 6.0])  # already floats: checked too
    with pytest.raises(DataError, match=r"at row 3 "):
        clean_frame(numeric, date_column="date", target="y")


def test_stock_forecasts_skip_market_holidays():
    from rnnkit.tasks.forecasting import future_dates

    assert [str(d)[:10] for d in future_dates(np.datetime64("2018-12-31"), 3, "B", "XNYS")] == [
        "2019-01-02",  # 2019-01-01: New Year's Day, the NYSE is closed
        "2019-01-03",
        "2019-01-04",
    ]
    s = synthetic(50)
    business = SeriesData(s.dates, s.y, s.covariates, "close", [], "B")
    assert resolve(ForecastConfig(data="stocks:AAPL"), business).trading_calendar == "XNYS"
    assert resolve(ForecastConfig(data="x.csv"), business).trading_calendar is None


def test_season_is_chosen_from_the_data_and_said(caplog):
    """Daily temperatures repeat yearly: with two years of training rows the seasonal naive uses 365."""
    from rnnkit.tasks.forecasting.model import choose_season

    t = np.arange(3 * 365)
    yearly = 15 + 10 * np.sin(2 * np.pi * t / 365) + np.random.default_rng(0).normal(0, 1, len(t))
    weekly = 50 + 5 * np.sin(2 * np.pi * t / 7) + np.random.default_rng(1).normal(0, 0.5, len(t))
    with caplog.at_level("INFO", logger="rnnkit"):
        assert choose_season(yearly, "D") == 365
    assert "seasonal naive: season 365 steps for 'D' data" in caplog.text
    assert choose_season(weekly, "D") == 7
    assert choose_season(yearly[:400], "D") == 7  # under two years: the weekly default
    assert choose_season(yearly[:100], "h") == 24
