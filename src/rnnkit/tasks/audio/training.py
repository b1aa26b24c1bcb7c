"""What the audio tasks' ``train`` functions share beyond :mod:`rnnkit.tasks.runs`."""

from __future__ import annotations

from rnnkit.tasks import runs


def earlier_seconds(run: runs.Run, start: int) -> float:
    """Training seconds of the sessions before this one (a resumed run), from its metrics.json."""
    path = run.file(runs.METRICS_FILE)
    if start == 0 or not path.exists():
        return 0.0
    old = run.read_json(runs.METRICS_FILE)
    return float(old.get("train_seconds_total", old.get("train_seconds_this_session", 0.0)))
