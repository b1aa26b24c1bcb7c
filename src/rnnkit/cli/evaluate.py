"""``rnnkit evaluate RUN --split test``: score a trained run on one of its data splits.

The run's task comes from its run.json; the task's predictor (from the registry) is loaded
and its ``evaluate(split) -> dict`` called. A task whose predictor has no ``evaluate`` says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rnnkit.errors import ConfigError


def evaluate(
    run: Annotated[Path, typer.Argument(help="A run directory (any task).")],
    split: Annotated[str, typer.Option(help="The split to score: test, validation or train.")] = "test",
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Score a trained run on a split of its data (the task's own metrics)."""
    from rnnkit.tasks import registry, runs

    opened = runs.open_run(run)
    task = registry.get(opened.task)
    predictor = task.predictor_class().load(opened.path)
    scorer = getattr(predictor, "evaluate", None)
    if scorer is None:
        raise ConfigError(f"task {task.name!r} has no evaluate: its predictor cannot score a split.")
    metrics = scorer(split)
    if as_json:
        typer.echo(json.dumps(metrics, indent=2, ensure_ascii=False))
        return
    for key, value in metrics.items():
        typer.echo(f"{key}\t{value:.4f}" if isinstance(value, float) else f"{key}\t{value}")
