"""The ``rnnkit`` command: the general commands, plus each registry task's use commands.

    rnnkit train TASK --out DIR ...      (rnnkit.cli.train, built from the task registry)
    rnnkit evaluate RUN --split test     (the task predictor's evaluate(split))
    rnnkit predict / suggest / generate / forecast / backtest / ...  (tasks' cli.py COMMANDS)
    rnnkit serve RUN_DIR...; rnnkit datasets; rnnkit diagnose; rnnkit bench

The general commands' modules are imported only when the command line reaches them
(:data:`GENERAL`, :class:`rnnkit.cli.groups.LazyGroup`); task commands are found through
:mod:`rnnkit.tasks.registry`, whose ``cli.py`` modules import no torch at module level, so
``rnnkit --help`` is fast.

Every usage error (missing argument, unknown command, ``--epochs abc``) and every error
rnnkit raises on purpose (:class:`~rnnkit.errors.RnnkitError`) ends the command with one
line on stderr and exit code 2 -- no traceback.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from typing import Any

import typer

from rnnkit.cli.groups import LazyGroup, command_from_function
from rnnkit.errors import RnnkitError
from rnnkit.tasks import registry

# The general commands: {name: ("module:attribute", the one-line help `rnnkit --help` shows)}.
# A module is imported only when its command runs or shows its own help; tests/cli/test_startup.py
# checks each line against the command's own help.
GENERAL: dict[str, tuple[str, str]] = {
    "evaluate": (
        "rnnkit.cli.evaluate:evaluate",
        "Score a trained run on a split of its data (the task's own metrics).",
    ),
    "serve": (
        "rnnkit.cli.serve:serve",
        "Serve trained runs over HTTP: a JSON API (/docs) and a demo page (/).",
    ),
    "export": (
        "rnnkit.cli.export:export",
        "Export a trained model to ONNX (dynamic batch and length) or to a Keras 3 .keras file.",
    ),
    "train": ("rnnkit.cli.train:app", "Train a model for a task into a run directory."),
    "datasets": ("rnnkit.cli.datasets:app", "Bundled real datasets (no downloads)."),
    "diagnose": ("rnnkit.cli.diagnose:app", "Diagnose recurrent networks."),
    "bench": ("rnnkit.cli.bench:app", "Measured benchmarks."),
}


def task_commands() -> dict[str, tuple[str, Any]]:
    """{command name: (task name, function)} over the registry; a name used twice is an error."""
    found: dict[str, tuple[str, Any]] = {}
    for task in registry.TASKS:
        for name, fn in task.command_functions().items():
            if name in found or name in GENERAL:
                owner = found[name][0] if name in found else "rnnkit"
                raise RuntimeError(f"command {name!r} is defined by {owner!r} and task {task.name!r}")
            found[name] = (task.name, fn)
    return found


class RootGroup(LazyGroup):
    """The general commands, then the task commands, in the registry's order."""

    lazy = GENERAL

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *task_commands()]

    def command_rows(self, ctx: Any) -> list[tuple[str, str]]:
        # Task commands are listed from their docstrings: building them (typer reads every
        # signature) would cost `rnnkit --help` most of its time.
        rows = super().command_rows(ctx)
        for name, (_, fn) in task_commands().items():
            rows.append((name, (fn.__doc__ or "").strip().split("\n")[0]))
        return rows

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        # The registry's order, importing task cli modules only until one has the command:
        # `rnnkit predict --help` reads sentiment's alone (test_startup checks names are unique).
        for task in registry.TASKS:
            fn = task.command_functions().get(cmd_name)
            if fn is not None:
                return command_from_function(cmd_name, fn)
        return None


# Plain (not rich-markup) help and tracebacks: rich's markdown renderer alone took ~0.2 s to import,
# and `rnnkit --help` must answer in under 0.5 s (bench/cli_startup.py).
app = typer.Typer(
    cls=RootGroup,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.callback()  # a group even before any command is registered: they all load lazily
def _root() -> None:
    """Recurrent networks, easy and measured."""


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (tests swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _log_to_stderr() -> None:
    """rnnkit's warnings (rows dropped, values interpolated ...) reach the terminal, one line each."""
    log = logging.getLogger("rnnkit")
    if not any(isinstance(h, _Stderr) for h in log.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        log.addHandler(handler)
    if log.level == logging.NOTSET:
        log.setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; usage errors and rnnkit errors become one line and exit code 2."""
    _log_to_stderr()
    try:
        # standalone_mode=False returns typer.Exit's code instead of exiting: pass it on.
        code = app(args=argv, standalone_mode=False)
    except RnnkitError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        # The readers should name the file themselves; this is the net under them.
        typer.echo(f"error: cannot read the input: {exc}", err=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:
        # Click's usage errors (missing argument, unknown command, --epochs abc). Typer ships its
        # own copy of click, so they are recognised by shape, not by class.
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # type: ignore[attr-defined]  # `rnnkit` alone: the help text
            sys.exit(2)
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            typer.echo(f"error: {exc.format_message()}", err=True)  # one line, no usage box
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
