"""A run directory: everything one trained task needs to be used again.

Layout (every task writes the same skeleton; the server and the CLI read it)::

    runs/NAME/
      run.json            {"format": "rnnkit.run/1", "task": "sentiment"|"lm"|"forecast"|...,
                           "config": {...}, "rnnkit_version": "..."}
      model.safetensors   the model (``Model.save``: config + weights + optimizer + epoch)
      checkpoint.safetensors  the latest training checkpoint, to resume an interrupted run
      tokenizer.json      text tasks: the tokenizer (``rnnkit.data`` JSON, never pickle)
      metrics.json        the final metrics (and the commands / data they came from)
      history.csv         one row per epoch (CSVLogger)
      training-curve.png  ``plot_history`` of the run

Files are written atomically (temporary file, fsync, rename).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.errors import ConfigError, DataError, invalid

FORMAT = "rnnkit.run/1"

MODEL_FILE = "model.safetensors"
CHECKPOINT_FILE = "checkpoint.safetensors"
TOKENIZER_FILE = "tokenizer.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
CURVE_FILE = "training-curve.png"


def write_json_atomic(path: Path, payload: Any) -> None:
    """JSON to ``path`` via a temporary file, fsync and rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class RunDir:
    """A run directory and the task it holds."""

    path: Path
    task: str
    config: dict[str, Any]

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT_FILE


def create_run(path: str | os.PathLike[str], task: str, config: dict[str, Any]) -> RunDir:
    """Create (or reuse, when resuming the same task) a run directory and write run.json."""
    from rnnkit import __version__

    root = Path(path)
    existing = root / "run.json"
    if existing.exists():
        old = open_run(root)
        if old.task != task:
            raise ConfigError(
                invalid("out", str(root), f"a new directory or a '{task}' run (it holds a '{old.task}' run)")
            )
    write_json_atomic(
        existing, {"format": FORMAT, "task": task, "config": config, "rnnkit_version": __version__}
    )
    return RunDir(root, task, config)


def open_run(path: str | os.PathLike[str], task: str | tuple[str, ...] | None = None) -> RunDir:
    """Open a run directory, checking that it exists and holds ``task`` (one of them, for a tuple)."""
    root = Path(path)
    meta_path = root / "run.json"
    if not root.is_dir():
        raise DataError(f"run directory {str(root)!r} does not exist: train one first (rnnkit train ...).")
    if not meta_path.is_file():
        raise DataError(f"{str(root)!r} is not an rnnkit run directory: it has no run.json.")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{str(meta_path)!r} is not valid JSON: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise DataError(invalid("format", meta.get("format"), f"{FORMAT!r} in {str(meta_path)!r}"))
    run = RunDir(root, str(meta["task"]), dict(meta.get("config", {})))
    wanted = (task,) if isinstance(task, str) else task
    if wanted is not None and run.task not in wanted:
        expected = " or ".join(repr(t) for t in wanted)
        raise ConfigError(f"run directory {str(root)!r} holds a {run.task!r} run: expected a {expected} run.")
    return run
