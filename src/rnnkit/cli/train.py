"""``rnnkit train TASK``: one sub-command per task, each defined in its task's CLI file."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(no_args_is_help=True, help="Train a model for a task into a run directory.")

# (module under rnnkit.cli, function name, sub-command name)
TASK_COMMANDS = [
    ("text", "train_sentiment", "sentiment"),
    ("text", "train_lm", "lm"),
    ("forecast", "train_forecast", "forecast"),
]

for module_name, func_name, command in TASK_COMMANDS:
    try:
        module = importlib.import_module(f"rnnkit.cli.{module_name}")
    except ModuleNotFoundError as exc:  # a task still being written is simply absent
        if exc.name != f"rnnkit.cli.{module_name}":
            raise
        continue
    app.command(command)(getattr(module, func_name))
