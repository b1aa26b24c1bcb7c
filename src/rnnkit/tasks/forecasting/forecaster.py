"""The :class:`Forecaster`: a trained :class:`ForecastNet` with its scalers and config.

fit, predict (direct or autoregressive sampled paths), evaluate beside the baselines,
forecast the future, save and load. The pipeline it implements is described in
:mod:`rnnkit.tasks.forecasting`, which re-exports it.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnkit.config import positive_int
from rnnkit.data.scaling import StandardScaler
from rnnkit.data.timeseries import TimeSplit, make_windows, split_by_time
from rnnkit.errors import ConfigError, DataError, invalid
from rnnkit.models import load_model
from rnnkit.models.callbacks import Callback, CSVLogger, EarlyStopping
from rnnkit.models.optimizers import Adam
from rnnkit.tasks import runs
from rnnkit.tasks.forecasting.baselines import baseline_forecasts
from rnnkit.tasks.forecasting.config import ForecastConfig
from rnnkit.tasks.forecasting.data import (
    SeriesData,
    apply_transform,
    future_dates,
    inverse_transform,
)
from rnnkit.tasks.forecasting.metrics import (
    SIGMA_FLOOR,
    GaussianNLL,
    Pinball,
    coverage,
    naive_scale,
    point_metrics,
)
from rnnkit.tasks.forecasting.model import Forecast, ForecastNet, _calendar, _iso, load_data
from rnnkit.utils.io import atomic_write_json
from rnnkit.utils.seed import set_seed

SPLITS = ("train", "validation", "test")

STATE_FILE = "forecaster.json"
OUTSIDE_SD = 6.0  # inputs this many training standard deviations away are flagged


# ============================================================================ the forecaster
class Forecaster:
    """The trained network, its scalers and its config: fit / evaluate / forecast / save / load.

    ``scale`` is the MASE denominator (training in-sample naive MAE), ``train_stop`` the
    first row after the training part (in the transformed series).
    """

    def __init__(self, config: ForecastConfig) -> None:
        self.config = config.validate()
        self.net: ForecastNet | None = None
        self.input_scaler = StandardScaler()
        self.target_scaler = StandardScaler()
        self.scale = 1.0
        self.history: Any = None

    # ------------------------------------------------------------------ features and windows
    @property
    def steps(self) -> int:
        """Steps the network emits: H (direct) or 1 (autoregressive)."""
        return self.config.horizon if self.config.strategy == "direct" else 1

    def features(self, series: SeriesData) -> tuple[SeriesData, np.ndarray, np.ndarray]:
        """(trimmed series, inputs (T, F) unscaled, g (T,))."""
        cfg = self.config
        series, z, g = apply_transform(series, cfg.transform)
        cal = _calendar(series.dates, cfg.calendar)  # (T, 2 * n_cal)
        inputs = np.concatenate([z[:, None], series.covariates, cal], axis=1)  # (T, F)
        return series, inputs, g

    def windows(
        self, inputs: np.ndarray, g: np.ndarray, rows: slice, steps: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Windows whose targets lie in ``rows``: X (N, L, F) scaled, C (N, H) unscaled, anchors, origins."""
        L, H = self.config.lookback, steps or self.steps
        start = rows.start or 0
        X, Y = make_windows(inputs[rows], L, H, targets=g[rows])  # (N, L, F), (N, H, 1)
        origins = start + L + np.arange(len(X))  # row of the first forecast step
        anchors = g[origins - 1]  # g(y[t-1]), the last observed value
        C = Y[..., 0] if self.config.transform == "level" else Y[..., 0] - anchors[:, None]
        return self.input_scaler.transform(X).astype(np.float32), C, anchors, origins

    @property
    def _lead(self) -> int:
        """Rows a change transform (diff, log_return) uses up: the first change needs the row before it."""
        return int(self.config.transform in ("diff", "log_return"))

    def _check_length(self, series: SeriesData, *, train: bool) -> None:
        """Refuse a series too short to forecast from (the last lookback rows) or to train on
        (lookback + horizon rows in the training part alone), saying how many rows it needs."""
        cfg, change = self.config, self._lead
        plus = " + 1 (the first change needs the row before it)" if change else ""
        if not train:
            need = cfg.lookback + change
            if len(series) < need:
                raise DataError(
                    f"the series has {len(series)} rows: a forecast reads the last "
                    f"lookback={cfg.lookback}{plus}, so it needs at least {need}."
                )
            return
        need = self.rows_to_train()
        if len(series) < need:
            share = 1 - cfg.validation - cfg.test
            raise DataError(
                f"the series has {len(series)} rows, too few to train: the training part ({share:.0%} of "
                f"the rows, before validation and test) needs lookback={cfg.lookback} + "
                f"horizon={cfg.horizon}{plus} = {cfg.lookback + cfg.horizon + change}, so the series needs "
                f"at least {need} rows."
            )

    def rows_to_train(self) -> int:
        """The fewest rows :meth:`fit` accepts: its training part must hold lookback + horizon
        rows (+ 1 for a change transform), after the validation and test parts are cut off."""
        cfg, change = self.config, self._lead
        n = cfg.lookback + cfg.horizon + change
        # The split rounds each part's share of the rows left after the transform: count up.
        while split_by_time(n - change, cfg.validation, cfg.test).train.stop < cfg.lookback + cfg.horizon:
            n += 1
        return n

    # ------------------------------------------------------------------ training
    def fit(
        self,
        series: SeriesData,
        *,
        callbacks: Sequence[Callback] = (),
        verbose: int = 0,
        log_csv: str | os.PathLike[str] | None = None,
        run: runs.Run | None = None,
    ) -> TimeSplit:
        """Fit scalers on the training rows and the network on the training windows.

        With ``run``, training goes through :func:`rnnkit.tasks.runs.fit_in_run`: a checkpoint
        after every epoch, history.csv, the curve, and a resume after a kill (the scalers are
        refitted from the same rows, so they come out identical)."""
        cfg = self.config
        self._check_length(series, train=True)
        series, inputs, g = self.features(series)
        split = split_by_time(len(series), cfg.validation, cfg.test)
        # Statistics of the training rows only: nothing about the future leaks into the inputs.
        self.input_scaler.fit(inputs[split.train])
        self.scale = naive_scale(series.y[split.train])
        set_seed(cfg.seed)
        x_tr, c_tr, _, _ = self.windows(inputs, g, split.train)
        self.target_scaler.fit(c_tr)  # per step h: its own mean and spread
        outputs = 2 if cfg.likelihood == "gaussian" else len(cfg.quantiles)
        self.net = ForecastNet(self.steps, outputs, cfg.units, cfg.cell, cfg.num_layers, cfg.dropout)
        loss = GaussianNLL() if cfg.likelihood == "gaussian" else Pinball(cfg.quantiles)
        self.net.compile(optimizer=Adam(learning_rate=cfg.learning_rate, clipnorm=cfg.clipnorm), loss=loss)
        cbs = list(callbacks)
        validation = None
        if len(range(*split.validation.indices(len(series)))) >= cfg.horizon:
            x_va, c_va, _, _ = self.windows(inputs, g, split.context("validation", cfg.lookback))
            validation = (x_va, self.target_scaler.transform(c_va).astype(np.float32))
            cbs.append(EarlyStopping(patience=cfg.patience, restore_best_weights=True))
        y_tr = self.target_scaler.transform(c_tr).astype(np.float32)
        if run is not None:
            runs.fit_in_run(
                self.net,
                run,
                (x_tr, y_tr),
                validation,
                epochs=cfg.epochs,
                callbacks=cbs,
                batch_size=cfg.batch_size,
            )
            self.history = None
            return split
        if log_csv is not None:
            cbs.append(CSVLogger(log_csv))
        self.history = self.net.fit(
            x_tr,
            self.target_scaler.transform(c_tr).astype(np.float32),
            batch_size=cfg.batch_size,
            epochs=cfg.epochs,
            validation_data=validation,
            callbacks=cbs,
            verbose=verbose,
            shuffle=True,
        )
        return split

    # ------------------------------------------------------------------ prediction
    def _net(self) -> ForecastNet:
        if self.net is None:
            raise ConfigError("the forecaster is not trained: call fit() or Forecaster.load(run_dir) first.")
        return self.net

    def _raw(self, X: np.ndarray | torch.Tensor) -> np.ndarray:
        out = self._net().predict(X, batch_size=1024, verbose=0)  # (N, steps, P)
        return np.asarray(out, dtype=np.float64)

    def predict_windows(
        self, X: np.ndarray, anchors: np.ndarray, future_calendar: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Point, lower, upper (N, H) in the target's units for scaled windows X (N, L, F).

        ``future_calendar`` (N, H, 2 n_cal): the calendar features of the forecast steps,
        needed by the autoregressive strategy (it feeds them back as inputs).
        """
        cfg = self.config
        if cfg.strategy == "autoregressive":
            return self._autoregressive(X, anchors, future_calendar)
        raw = self._raw(X)
        m, s = self.target_scaler.mean_, self.target_scaler.scale_  # (H,) each
        if cfg.likelihood == "gaussian":
            mu, sigma = raw[..., 0], np.logaddexp(0.0, raw[..., 1]) + SIGMA_FLOOR  # softplus, as in training
            z = statistics.NormalDist().inv_cdf((1 + cfg.interval_level) / 2)
            c_mid, c_lo, c_hi = mu, mu - z * sigma, mu + z * sigma
        else:
            q = np.sort(raw, axis=-1)  # (N, H, Q): sorting removes quantile crossing
            c_lo, c_mid, c_hi = q[..., 0], q[..., 1], q[..., -1]
        return {
            k: inverse_transform(v * s + m, anchors, cfg.transform)
            for k, v in (("point", c_mid), ("lower", c_lo), ("upper", c_hi))
        }

    @torch.no_grad()
    def _autoregressive(
        self, X: np.ndarray, anchors: np.ndarray, future_calendar: np.ndarray | None
    ) -> dict[str, np.ndarray]:
        """H one-step forecasts, each fed back; path 0 feeds the mean, paths 1..S sample."""
        cfg = self.config
        net = self._net()
        if future_calendar is None:
            raise ConfigError("the autoregressive strategy needs future_calendar (N, H, F_cal).")
        N, S, H = len(X), cfg.samples, cfg.horizon
        gen = torch.Generator().manual_seed(cfg.seed)
        m, s = float(self.target_scaler.mean_[0]), float(self.target_scaler.scale_[0])  # type: ignore[index]
        x = torch.as_tensor(X, dtype=torch.float32).repeat(S + 1, 1, 1)  # ((S+1) N, L, F)
        level = torch.zeros((S + 1) * N, dtype=torch.float64)
        if cfg.transform != "level":
            level += torch.as_tensor(anchors, dtype=torch.float64).repeat(S + 1)
        cal = torch.as_tensor(future_calendar, dtype=torch.float64).repeat(S + 1, 1, 1)  # ((S+1) N, H, C)
        steps = []
        was_training = net.training
        net.eval()
        try:
            for k in range(H):
                raw = net(x)[:, 0].double()  # ((S+1) N, 2)
                mu = raw[:, 0] * s + m
                sigma = (nn.functional.softplus(raw[:, 1]) + SIGMA_FLOOR) * s
                eps = torch.randn(mu.shape, generator=gen, dtype=torch.float64)
                eps[:N] = 0  # path 0: the mean path, the point forecast
                c = mu + sigma * eps  # the next value (level) or change (diff, log_return)
                level = c if cfg.transform == "level" else level + c
                steps.append(level.clone())
                z = level if cfg.transform == "delta" else c  # what the input column holds
                row = torch.cat([z[:, None], cal[:, k]], dim=1).numpy()  # ((S+1) N, F): [z, calendar]
                new = torch.as_tensor(self.input_scaler.transform(row), dtype=torch.float32)
                x = torch.cat([x[:, 1:], new[:, None]], dim=1)  # slide the window one step
        finally:
            net.train(was_training)
        G = torch.stack(steps, dim=1).reshape(S + 1, N, H).numpy()  # g(y) per path
        back = np.exp if cfg.transform == "log_return" else (lambda v: v)
        tail = (1 - cfg.interval_level) / 2
        samples = back(G[1:])  # (S, N, H)
        return {
            "point": back(G[0]),
            "lower": np.quantile(samples, tail, axis=0),
            "upper": np.quantile(samples, 1 - tail, axis=0),
        }

    def _future_calendar(self, series: SeriesData, origins: np.ndarray) -> np.ndarray | None:
        if self.config.strategy != "autoregressive":
            return None
        H = self.config.horizon
        idx = origins[:, None] + np.arange(H)[None, :]  # (N, H)
        cal = _calendar(series.dates[idx.ravel()], self.config.calendar)
        return cal.reshape(len(origins), H, -1)

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self, series: SeriesData | str, rows: str | slice = "test", *, train_stop: int | None = None
    ) -> dict[str, Any]:
        """Network and baselines on the same origins, metrics in the target's units.

        ``rows``: a split name, or a slice of the transformed series (its first
        ``lookback`` rows are context only). ARIMA/ETS are fitted on the rows before
        ``train_stop`` (default: the end of the training part). ``evaluate("test")`` (a split
        name alone, the task contract ``rnnkit evaluate`` calls) scores the run's own data and
        returns flat ``{method}_{metric}`` numbers.
        """
        if isinstance(series, str):
            return self._evaluate_split(series)
        cfg = self.config
        tseries, inputs, g = self.features(series)
        split = split_by_time(len(tseries), cfg.validation, cfg.test)
        part = split.context(rows, cfg.lookback) if isinstance(rows, str) else rows
        train_stop = split.train.stop if train_stop is None else train_stop
        X, _, anchors, origins = self.windows(inputs, g, part, steps=cfg.horizon)
        y_true = tseries.y[origins[:, None] + np.arange(cfg.horizon)[None, :]]  # (N, H)
        pred = self.predict_windows(X, anchors, self._future_calendar(tseries, origins))
        forecasts = {"network": pred["point"]}
        forecasts.update(
            baseline_forecasts(
                tseries.y,
                origins,
                cfg.horizon,
                train_stop=train_stop,
                season=cfg.season,
                names=cfg.baselines,
                arima_order=cfg.arima_order,
            )
        )
        last = tseries.y[origins - 1]
        methods = {
            name: point_metrics(y_true, f, scale=self.scale, last=last) for name, f in forecasts.items()
        }
        methods["network"]["coverage"] = coverage(y_true, pred["lower"], pred["upper"])
        methods["network"]["interval_width"] = float(np.mean(pred["upper"] - pred["lower"]))
        first = _iso(tseries.dates[origins[:1]])[0]
        last_day = _iso(tseries.dates[origins[-1:] + cfg.horizon - 1])[0]
        return {
            "rows": f"{first} .. {last_day}",
            "origins": len(origins),
            "horizon": cfg.horizon,
            "level": cfg.interval_level,
            "mase_scale": self.scale,
            "season": cfg.season,
            "methods": methods,
            "_arrays": {"origins": origins, "y": y_true, **{f"pred_{k}": v for k, v in pred.items()}},
            "_dates": tseries.dates,
            "_y": tseries.y,
        }

    def _evaluate_split(self, split: str) -> dict[str, Any]:
        if split not in SPLITS:
            raise ConfigError(invalid("split", split, " or ".join(SPLITS)))
        result = self.evaluate(load_data(self.config), split)
        flat: dict[str, Any] = {k: v for k, v in result.items() if not k.startswith("_") and k != "methods"}
        for method, metrics in result["methods"].items():
            flat.update({f"{method}_{name}": value for name, value in metrics.items()})
        return flat

    # ------------------------------------------------------------------ the future
    def forecast(self, series: SeriesData, history: int = 200) -> Forecast:
        """Forecast the H steps after the end of ``series`` (the last L rows are the input);
        the result carries the last ``history`` (>= 1) observed points for a chart."""
        cfg = self.config
        positive_int("history", history)
        self._check_length(series, train=False)
        tseries, inputs, g = self.features(series)
        L = cfg.lookback
        X = self.input_scaler.transform(inputs[-L:][None]).astype(np.float32)  # (1, L, F)
        dates = future_dates(
            tseries.dates[-1], cfg.horizon, cfg.frequency or series.frequency, cfg.trading_calendar
        )
        cal = None
        if cfg.strategy == "autoregressive":
            cal = _calendar(dates, cfg.calendar)[None]  # (1, H, 2 n_cal)
        pred = self.predict_windows(X, g[-1:], cal)
        tail = series.tail(history)
        warnings = []
        # The network has only seen inputs near the training data's: standardized values
        # beyond OUTSIDE_SD mean the forecast extrapolates (forty 1.0s fed to a temperature model).
        z = (inputs[-L:, 0] - self.input_scaler.mean_[0]) / self.input_scaler.scale_[0]
        if np.abs(z).max() > OUTSIDE_SD:
            warnings.append(
                f"the last {L} values lie far outside the training data (up to {np.abs(z).max():.0f} "
                "standard deviations from its mean): the forecast extrapolates and may be meaningless."
            )
        return Forecast(
            dates=_iso(dates),
            point=pred["point"][0].tolist(),
            lower=pred["lower"][0].tolist(),
            upper=pred["upper"][0].tolist(),
            level=cfg.interval_level,
            target=series.target,
            history_dates=_iso(tail.dates),
            history=tail.y.tolist(),
            warnings=warnings,
        )

    def forecast_values(self, values: Sequence[float], dates: Sequence[str] | None = None) -> Forecast:
        """Forecast from a plain list of target values with their dates (models without covariates).

        The dates are required: the forecast's own dates and the model's calendar inputs come
        from them (values placed on made-up dates got the training data's calendar)."""
        if self.config.covariates:
            raise ConfigError(
                f"this model also reads covariates ({', '.join(self.config.covariates)}): "
                "give a table with those columns instead of values."
            )
        y = np.asarray(values, dtype=np.float64)
        if y.ndim != 1 or not np.isfinite(y).all():
            raise DataError("values must be a flat list of finite numbers.")
        freq = self.config.frequency or "D"
        if dates is None:
            raise DataError(
                "values need their dates (one ISO date per value, e.g. '2024-01-31'): the forecast's "
                f"dates and the model's calendar inputs come from them (this run's data is {freq!r}-spaced)."
            )
        if len(dates) != len(y):
            raise DataError(f"dates has {len(dates)} entries but values has {len(y)}.")
        d = np.asarray(dates, dtype="datetime64[s]")
        series = SeriesData(d, y, np.zeros((len(y), 0)), self.config.target or "y", [], freq)
        return self.forecast(series)

    # ------------------------------------------------------------------ saving
    def save(self, path: str | os.PathLike[str]) -> None:
        """Network (model.safetensors) and scalers + config (forecaster.json) into a run directory."""
        if not runs.is_writer():  # torchrun: rank 0 alone writes
            return
        root = Path(path)
        root.mkdir(parents=True, exist_ok=True)
        self._net().save(root / runs.MODEL_FILE)
        atomic_write_json(
            root / STATE_FILE,
            {
                "config": self.config.to_dict(),
                "input_scaler": self.input_scaler.to_dict(),
                "target_scaler": self.target_scaler.to_dict(),
                "mase_scale": self.scale,
                "last_date": getattr(self, "last_date", None),
            },
        )

    def describe(self) -> dict[str, Any]:
        """What ``/api/runs`` shows about this run."""
        cfg = self.config
        return {
            "target": cfg.target,
            "horizon": cfg.horizon,
            "lookback": cfg.lookback,
            "level": cfg.interval_level,
            "frequency": cfg.frequency,
        }

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Forecaster:
        """A forecaster saved by :meth:`save` (or by ``rnnkit train forecast``)."""
        root = Path(path)
        state_path = root / STATE_FILE
        if not state_path.is_file():
            raise DataError(f"{str(root)!r} has no {STATE_FILE}: it is not a trained forecast run.")
        state = json.loads(state_path.read_text(encoding="utf-8"))
        config = dict(state["config"])
        if "level" in config:  # runs written before the field was renamed (--level meant word/char in lm)
            config["interval_level"] = config.pop("level")
        self = cls(ForecastConfig.from_dict(config))
        self.input_scaler = StandardScaler.from_dict(state["input_scaler"])
        self.target_scaler = StandardScaler.from_dict(state["target_scaler"])
        self.scale = float(state["mase_scale"])
        self.last_date = state.get("last_date")
        self.net = load_model(root / runs.MODEL_FILE, custom_objects={"ForecastNet": ForecastNet})
        return self
