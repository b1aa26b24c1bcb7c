"""Time-series windows never see the future; scaler fit on train only; calendar features; errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data import StandardScaler, calendar_features, check_numeric, make_windows, split_by_time
from rnnkit.errors import ConfigError, DataError, ShapeError


def test_window_layout():
    t = np.arange(10.0)
    X, Y = make_windows(t, lookback=3, horizon=2)
    assert X.shape == (6, 3, 1) and Y.shape == (6, 2, 1)
    assert X[0, :, 0].tolist() == [0, 1, 2] and Y[0, :, 0].tolist() == [3, 4]
    assert X[-1, :, 0].tolist() == [5, 6, 7] and Y[-1, :, 0].tolist() == [8, 9]
    X, Y = make_windows(np.stack([t, -t], 1), 2, 1, targets=t, stride=3)
    assert X.shape == (3, 2, 2) and Y[:, 0, 0].tolist() == [2, 5, 8]


@settings(max_examples=80, deadline=None)
@given(
    T=st.integers(2, 60), lookback=st.integers(1, 20), horizon=st.integers(1, 20), stride=st.integers(1, 5)
)
def test_no_future_value_in_any_input(T, lookback, horizon, stride):
    # Encode each row by its time index: every input index must be < every target index of its window.
    time_index = np.arange(T, dtype=float)
    if lookback + horizon > T:
        with pytest.raises(DataError):
            make_windows(time_index, lookback, horizon, stride=stride)
        return
    X, Y = make_windows(time_index, lookback, horizon, stride=stride)
    assert len(X) == (T - lookback - horizon) // stride + 1
    assert (X.max(axis=(1, 2)) < Y.min(axis=(1, 2))).all()
    assert (Y[:, 0, 0] - X[:, -1, 0] == 1).all()  # the target starts right after the last input


def test_split_by_time_and_context():
    s = split_by_time(100, validation=0.1, test=0.2)
    assert (s.train, s.validation, s.test) == (slice(0, 70), slice(70, 80), slice(80, 100))
    assert s.context("test", 5) == slice(75, 100)
    # windows built on the test context have every target inside the test block
    X, Y = make_windows(np.arange(100.0)[s.context("test", 5)], 5, 3)
    assert Y.min() >= 80 and X.max() < 100


def test_scaler_fits_train_only_and_inverts(tmp_path):
    rng = np.random.default_rng(0)
    series = np.concatenate([rng.normal(0, 1, (80, 2)), rng.normal(100, 10, (20, 2))])
    split = split_by_time(100, validation=0.0, test=0.2)
    scaler = StandardScaler().fit(series[split.train])
    np.testing.assert_allclose(scaler.mean_, series[:80].mean(0))
    z = scaler.transform(series)
    assert abs(z[:80].mean()) < 1e-9 and z[80:].mean() > 20  # the future keeps its shift: no leak
    np.testing.assert_allclose(scaler.inverse_transform(z), series)
    windows = z[None, :5]  # (N, L, F)
    np.testing.assert_allclose(scaler.inverse_transform(windows)[0], series[:5])
    np.testing.assert_allclose(scaler.inverse_transform(z[:, 1], columns=[1]), series[:, 1])
    back = StandardScaler.load(scaler.save(tmp_path / "scaler.json"))
    np.testing.assert_array_equal(back.transform(series), z)
    const = StandardScaler().fit(np.ones(5))
    assert const.transform(np.ones(3)).tolist() == [0, 0, 0]


def test_calendar_features():
    f = calendar_features(["2024-01-01T00:00", "2024-01-01T06:00", "2024-01-06"], ("hour", "dayofweek"))
    assert f.shape == (3, 4)
    np.testing.assert_allclose(f[1, :2], [1, 0], atol=1e-6)  # 6h -> a quarter turn
    np.testing.assert_allclose(f[0, 2:], [0, 1], atol=1e-6)  # 2024-01-01 is a Monday -> 0
    np.testing.assert_allclose(f[2, 2:], [np.sin(2 * np.pi * 5 / 7), np.cos(2 * np.pi * 5 / 7)], atol=1e-6)
    with pytest.raises(ConfigError, match=r"^features='week' is not valid"):
        calendar_features(["2024-01-01"], ["week"])


def test_timeseries_errors():
    with pytest.raises(
        DataError,
        match=r"^the series has 5 rows, too few for lookback=3 \+ horizon=10 = 13: "
        r"shorten them or give more data\.$",
    ):
        make_windows(np.arange(5.0), 3, 10)
    with pytest.raises(ConfigError, match=r"^horizon=0 is not valid: expected an integer >= 1\.$"):
        make_windows(np.arange(5.0), 3, 0)
    with pytest.raises(DataError, match=r"^temp has NaN or infinite values in 2 row\(s\): rows at d2, d4\.$"):
        check_numeric([1.0, np.nan, 2.0, np.inf], "temp", ["d1", "d2", "d3", "d4"])
    with pytest.raises(
        DataError, match=r"^close has non-numeric, NaN or infinite values in 1 row\(s\): rows 2\.$"
    ):
        check_numeric(np.array(["1.5", "n/a", "3"], dtype=object), "close")
    bad = np.ones((120, 2))
    bad[[3, 100], 1] = np.nan
    with pytest.raises(DataError) as err:  # was "StandardScaler.fit got ... in rows [3, 100]"
        StandardScaler().fit(bad)
    assert str(err.value) == (
        "cannot scale the data: 2 row(s) hold NaN or infinite values (rows 4, 101, counted from 1)."
    )
    with pytest.raises(ShapeError, match="fitted on 2 column"):
        StandardScaler().fit(np.ones((3, 2))).transform(np.ones((3, 3)))
    with pytest.raises(DataError, match="not fitted"):
        StandardScaler().transform([1.0])
    with pytest.raises(DataError, match="training part would be empty"):
        split_by_time(2, 0.4, 0.4)
