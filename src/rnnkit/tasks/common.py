"""What every task's training shares: strict configs from dicts and TOML presets, and
``fit`` inside a run directory (a checkpoint per epoch, history.csv, the training curve, resume)."""

from __future__ import annotations

import csv
import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tomllib

from rnnkit.errors import ConfigError, DataError, invalid
from rnnkit.models import Model, plot_history
from rnnkit.models.callbacks import Callback, CSVLogger
from rnnkit.models.saving import restore_training_state
from rnnkit.tasks import rundir

logger = logging.getLogger(__name__)


def check_choice(name: str, value: Any, allowed: Any) -> None:
    if value not in allowed:
        raise ConfigError(invalid(name, value, list(allowed)))


def check_positive(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(invalid(name, value, f"an integer >= {minimum}"))


def config_from_dict(cls: Any, values: dict[str, Any]) -> Any:
    """A config dataclass from a dict; an unknown key is an error (typos must not pass silently)."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(invalid("config key", unknown[0], sorted(names)))
    return cls(**values)


class TaskConfig:
    """Base of the task configs (dataclasses): strict ``from_dict`` and plain ``to_dict``."""

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Any:
        return config_from_dict(cls, values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


def load_preset(path: str | Path, cls: Any, overrides: dict[str, Any] | None = None) -> Any:
    """Read a TOML preset (flat keys) and apply ``overrides`` (None values are skipped)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist.")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return config_from_dict(cls, values)


class EpochCheckpoint(Callback):
    """Save everything needed to resume (weights, optimizer, RNG, next epoch) after each epoch."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.model.save(self.path, epoch=epoch + 1, rng_state=True)


class EpochLog(Callback):
    """One log line per epoch (the progress bar covers the batches)."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total, self.start = total, time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        shown = ", ".join(f"{k}={v:.4f}" for k, v in (logs or {}).items())
        logger.info(
            "epoch %d/%d: %s (%.0f s)", epoch + 1, self.total, shown, time.perf_counter() - self.start
        )


def fit_in_run(
    model: Model,
    run: rundir.RunDir,
    train: Any,
    validation: Any,
    *,
    epochs: int,
    resume: bool | None,
    verbose: int,
    extra_callbacks: Sequence[Callback] = (),
) -> tuple[int, float]:
    """``fit`` with a checkpoint per epoch, history.csv and the training curve.

    ``resume=None`` resumes when the run has a checkpoint, ``True`` requires one,
    ``False`` starts over. Returns (the epoch training started from, seconds spent).
    """
    ckpt = run.checkpoint_path
    start = 0
    if resume is True and not ckpt.exists():
        raise DataError(f"cannot resume: {str(run.path)!r} has no checkpoint ({rundir.CHECKPOINT_FILE}).")
    if resume is not False and ckpt.exists():
        model._prepare(next(iter(train))[0])  # build the lazy weights the checkpoint fills
        start = restore_training_state(model, ckpt)
        logger.info("resuming %s from epoch %d", run.path, start + 1)
    history_path = run.file(rundir.HISTORY_FILE)
    callbacks: list[Callback] = [
        *extra_callbacks,
        CSVLogger(history_path, append=start > 0 and history_path.exists()),
        EpochCheckpoint(ckpt),
        EpochLog(epochs),
    ]
    t0 = time.perf_counter()
    if start < epochs:
        model.fit(
            train,
            epochs=epochs,
            initial_epoch=start,
            validation_data=validation,
            callbacks=callbacks,
            verbose=verbose,
        )
    seconds = time.perf_counter() - t0
    write_curve(run)
    return start, seconds


def write_curve(run: rundir.RunDir) -> None:
    """training-curve.png from history.csv (all epochs, across resumes); skipped without matplotlib."""
    path = run.file(rundir.HISTORY_FILE)
    if not path.exists():
        return
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    logs = {k: [float(r[k]) for r in rows] for k in rows[0] if k != "epoch" and rows[0][k] not in ("", None)}
    try:
        plot_history(logs, run.file(rundir.CURVE_FILE), title=f"{run.task}: {run.path.name}")
    except ImportError:
        logger.warning("matplotlib is not installed: no %s", rundir.CURVE_FILE)
