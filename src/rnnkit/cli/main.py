"""The ``rnnkit`` command: one sub-command per file, registered here and nothing else.

Errors that rnnkit raises on purpose (:class:`~rnnkit.errors.RnnkitError`) end
the command with one line on stderr and exit code 2 -- no traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer

from rnnkit.errors import RnnkitError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Recurrent networks, easy and measured.")

# (module under rnnkit.cli, the name of its typer app, the command name)
SUBCOMMANDS = [
    ("datasets", "app", "datasets"),
    ("diagnose", "app", "diagnose"),
    ("bench", "app", "bench"),
    ("train", "app", "train"),
]
# Single commands: (module under rnnkit.cli, function name, command name).
COMMANDS = [
    ("text", "predict", "predict"),
    ("text", "suggest", "suggest"),
    ("text", "generate", "generate"),
    ("forecast", "forecast", "forecast"),
    ("forecast", "backtest", "backtest"),
    ("serve", "serve", "serve"),
]


def _module(name: str) -> object | None:
    try:
        return importlib.import_module(f"rnnkit.cli.{name}")
    except ModuleNotFoundError as exc:  # a command still being written is simply absent
        if exc.name != f"rnnkit.cli.{name}":
            raise
        return None


for module_name, attr, command in SUBCOMMANDS:
    module = _module(module_name)
    if module is not None:
        app.add_typer(getattr(module, attr), name=command)

for module_name, func_name, command in COMMANDS:
    module = _module(module_name)
    if module is not None:
        app.command(command)(getattr(module, func_name))


def main() -> None:
    """Entry point: run the app, turning rnnkit errors into one line and exit code 2."""
    try:
        # standalone_mode=False returns typer.Exit's code instead of exiting: pass it on.
        code = app(standalone_mode=False)
    except RnnkitError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors arrive here with standalone_mode=False
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
