"""The runs a server answers for: loaded once at start, looked up by name and task.

Each run directory is opened with :func:`rnnkit.tasks.runs.open_run` (clear errors for a
missing or foreign directory); its task's predictor comes from the task registry
(:mod:`rnnkit.tasks.registry`), so this module knows no task by name.
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnkit.errors import ConfigError, RnnkitError
from rnnkit.tasks import registry as tasks
from rnnkit.tasks import runs

logger = logging.getLogger(__name__)


class UnknownRunError(RnnkitError, LookupError):
    """A request names a run that is not loaded, or no run of its task is loaded (HTTP 404)."""


@dataclass
class LoadedRun:
    """A loaded run: its name (the directory's), task, path and the task's predictor."""

    name: str
    task: str
    path: Path
    model: Any
    details: dict[str, Any] = field(default_factory=dict)
    # Predictors that switch modes (eval/train) or hold scratch state answer one request at
    # a time per run: the routes hold this lock while they work.
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_run(path: str | os.PathLike[str], *, int8: bool = False) -> LoadedRun:
    """Open a run directory and load it with its task's predictor (the task comes from run.json).

    ``int8``: passed to predictors whose ``load`` takes it (language models decode with int8 weights)."""
    run = runs.open_run(path)
    task = tasks.get(run.task)
    predictor_cls = task.predictor_class()
    kwargs = {"int8": int8} if "int8" in inspect.signature(predictor_cls.load).parameters else {}
    model = predictor_cls.load(run.path, **kwargs)
    details = dict(model.describe()) if hasattr(model, "describe") else {}
    return LoadedRun(run.path.resolve().name, run.task, run.path, model, details)


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

    def tasks(self) -> list[str]:
        """The tasks of the loaded runs, in the task registry's order."""
        loaded = {r.task for r in self.runs.values()}
        return [name for name in tasks.names() if name in loaded]

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


def public_details(run: LoadedRun) -> dict[str, Any]:
    """The details shown to clients (private cache entries start with '_')."""
    return {k: v for k, v in run.details.items() if not k.startswith("_")}
