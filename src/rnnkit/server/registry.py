"""The runs a server answers for: loaded once at start, looked up by name and task.

Each run directory is opened with :func:`rnnkit.tasks.rundir.open_run` (clear errors
for a missing or foreign directory) and loaded by its task's own loader; this module
is the thin adapter between the HTTP routes and the task APIs, so ``app.py`` holds
routes only.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.errors import ConfigError, DataError, RnnkitError
from rnnkit.tasks import rundir

logger = logging.getLogger(__name__)

TASKS = ("sentiment", "lm", "forecast")


class UnknownRunError(RnnkitError, LookupError):
    """A request names a run that is not loaded, or no run of its task is loaded (HTTP 404)."""


@dataclass
class LoadedRun:
    """A loaded run: its name (the directory's), task, path and the task's model object."""

    name: str
    task: str
    path: Path
    model: Any
    details: dict[str, Any] = field(default_factory=dict)
    # Sentiment and forecast models switch modes (eval/train) and hold scratch state:
    # one request at a time per run. LM suggestions/generation use detached weights and
    # per-request decoder states, so they need no lock.
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_run(path: str | os.PathLike[str], *, int8: bool = False) -> LoadedRun:
    """Open a run directory and load its model; the task comes from its run.json.

    ``int8``: language models decode with int8 weights (rnnkit.kernels.step)."""
    run = rundir.open_run(path, TASKS)
    name = run.path.resolve().name
    if run.task == "sentiment":
        from rnnkit.tasks.sentiment import SentimentClassifier

        clf = SentimentClassifier.load(run.path)
        details: dict[str, Any] = {"classes": list(clf.classes)}
        return LoadedRun(name, run.task, run.path, clf, details)
    if run.task == "lm":
        from rnnkit.tasks.language_model import LanguageModel

        lm = LanguageModel.load(run.path, int8=int8)
        return LoadedRun(name, run.task, run.path, lm, {"level": lm.level, "int8": int8})
    from rnnkit.tasks.forecasting import Forecaster

    fc = Forecaster.load(run.path)
    cfg = fc.config
    details = {
        "target": cfg.target,
        "horizon": cfg.horizon,
        "lookback": cfg.lookback,
        "level": cfg.level,
        "frequency": cfg.frequency,
    }
    return LoadedRun(name, run.task, run.path, fc, details)


class Registry:
    """Loaded runs by name; ``get(task, name)`` resolves a request's ``run`` field."""

    def __init__(self, runs: Sequence[LoadedRun]) -> None:
        self.runs: dict[str, LoadedRun] = {}
        for r in runs:
            if r.name in self.runs:
                raise ConfigError(
                    f"two runs are named {r.name!r} ({self.runs[r.name].path} and {r.path}): "
                    "runs are addressed by their directory name, so rename one."
                )
            self.runs[r.name] = r

    @classmethod
    def load(cls, paths: Sequence[str | os.PathLike[str]], *, int8: bool = False) -> Registry:
        return cls([load_run(p, int8=int8) for p in paths])

    def __iter__(self) -> Iterator[LoadedRun]:
        return iter(self.runs.values())

    def get(self, task: str, name: str | None) -> LoadedRun:
        """The run ``name`` (it must hold ``task``), or the only ``task`` run when ``name`` is None.

        Raises :class:`UnknownRunError` (404) for an unknown name or no run of the task, and
        :class:`~rnnkit.errors.ConfigError` (400) for a run of another task.
        """
        if name is not None:
            run = self.runs.get(name)
            if run is None:
                known = ", ".join(repr(n) for n in self.runs) or "none"
                raise UnknownRunError(f"run {name!r} is not loaded: the loaded runs are {known}.")
            if run.task != task:
                raise ConfigError(
                    f"run {name!r} holds task {run.task!r}: this endpoint needs a {task!r} run."
                )
            return run
        matching = [r for r in self.runs.values() if r.task == task]
        if not matching:
            raise UnknownRunError(
                f"no {task!r} run is loaded: start the server with one (rnnkit serve RUN_DIR)."
            )
        if len(matching) > 1:
            names = ", ".join(repr(r.name) for r in matching)
            raise ConfigError(f"several {task!r} runs are loaded ({names}): name one in the 'run' field.")
        return matching[0]


# ----------------------------------------------------------------- adapters
def forecast(run: LoadedRun, values: list[float] | None, dates: list[str] | None, history: int) -> Any:
    """The run's forecast after ``values`` (or after its own data); checks the result is finite."""
    from rnnkit.tasks.forecasting import load_data

    fc = run.model
    if values is None:
        if dates is not None:
            raise DataError("dates were given without values: send both, or neither for the run's data.")
        # The run's data is read (and cleaned) once, then kept: it does not change while serving.
        series = run.details.get("_series")
        if series is None:
            series = load_data(fc.config)
            run.details["_series"] = series
        result = fc.forecast(series, history=history)
    else:
        parsed = _parse_dates(dates, len(values)) if dates is not None else None
        result = fc.forecast_values(values, parsed)
        # forecast_values keeps all values as history; the response carries only the last ``history``.
        result.history = result.history[-history:]
        result.history_dates = result.history_dates[-history:]
    numbers = np.asarray([*result.point, *result.lower, *result.upper, *result.history], dtype=np.float64)
    if not np.isfinite(numbers).all():
        raise DataError(
            "the forecast overflowed for these values: give values on the scale the run was trained on."
        )
    return result


def _parse_dates(dates: list[str], n: int) -> list[str]:
    if len(dates) != n:
        raise DataError(f"dates has {len(dates)} entries but values has {n}: give one date per value.")
    try:
        parsed = np.asarray(dates, dtype="datetime64[s]")
    except (ValueError, OverflowError) as exc:
        raise DataError(f"dates must be ISO dates such as '2024-01-31': {exc}.") from None
    # pandas (which lays out the future dates) holds 1677..2262; keep well inside it.
    lo, hi = np.datetime64("1900-01-01", "s"), np.datetime64("2200-01-01", "s")
    if np.isnat(parsed).any() or (parsed < lo).any() or (parsed > hi).any():
        raise DataError("dates must be ISO dates between 1900 and 2200, such as '2024-01-31'.")
    if n > 1 and not (np.diff(parsed.astype(np.int64)) > 0).all():
        raise DataError("dates must be strictly increasing.")
    return [str(d) for d in parsed]


def public_details(run: LoadedRun) -> dict[str, Any]:
    """The details shown to clients (private cache entries start with '_')."""
    return {k: v for k, v in run.details.items() if not k.startswith("_")}
