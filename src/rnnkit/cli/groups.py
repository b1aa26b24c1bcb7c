"""Command groups that answer ``--help`` without importing what the commands need to run.

``rnnkit --help`` and ``rnnkit <group> --help`` must answer in under 0.5 s
(bench/cli_startup.py). Two things made them slow, neither of them rnnkit's own code:

- typer validates every option value through pydantic, built lazily per option, and a
  group's own ``--help`` flag is checked (value ``None``) on the way to any sub-command:
  ``rnnkit train sentiment --help`` imported pydantic and built two adapters for a flag that
  is only ever ``None`` or a bool (~0.3 s of its ~0.6 s). :class:`LightHelpGroup` gives the
  flag a pass-through check instead.
- every command module was imported to list the commands. :class:`LazyGroup` lists them
  from a table of one-line helps and imports a command's module only when it runs or shows
  its own help (``tests/cli/test_startup.py`` holds the table to the commands' own text).
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import typer
from typer.core import TyperGroup


class _PassFlag:
    """Typer's runtime coercion, for a flag whose value is ``None`` or already a bool."""

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        return value


class LightHelpGroup(TyperGroup):
    """A group whose ``--help`` flag is checked without pydantic."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        # typer builds `_runtime_param` on first use; preset, it never imports pydantic. A typer
        # without the attribute keeps its own check (correct, only slower).
        if option is not None and getattr(option, "_runtime_param", False) is None:
            option._runtime_param = _PassFlag()  # type: ignore[assignment]  # duck-typed: coerce()
        return option


def command_from_function(name: str, fn: Any) -> Any:
    """A typer-style function (``Annotated`` options) as a click command."""
    single = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)
    single.command(name)(fn)
    return typer.main.get_command(single)


def load_command(name: str, ref: str) -> Any:
    """The click command for ``"module:attribute"``: a ``typer.Typer`` app or a command function."""
    module_name, _, attr = ref.partition(":")
    target = getattr(importlib.import_module(module_name), attr)
    if not isinstance(target, typer.Typer):
        return command_from_function(name, target)
    # Mounted on a parent, as `add_typer` would on the root: the sub-app inherits the plain
    # help (no rich markup), and an app without a callback of its own still builds as a group.
    parent = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)
    parent.add_typer(target, name=name)
    group: Any = typer.main.get_command(parent)
    return group.commands[name]


class LazyGroup(LightHelpGroup):
    """Sub-commands named in :attr:`lazy` ({name: ("module:attribute", one-line help)}),
    imported when asked for, listed in help from the table."""

    lazy: ClassVar[dict[str, tuple[str, str]]] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.lazy:
            command = load_command(cmd_name, self.lazy[cmd_name][0])
        return command

    def command_rows(self, ctx: Any) -> list[tuple[str, str]]:
        """(name, one-line help) for every listed command, building none of the lazy ones."""
        rows = []
        for name in super().list_commands(ctx):
            command = super().get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=70)))
        rows += [(name, text) for name, (_, text) in self.lazy.items()]
        return rows

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = self.command_rows(ctx)
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
