"""Printing tables that never cut a number short, at any terminal width or through a pipe.

rich fits a table to the console's width (80 columns when output is piped) by shrinking
columns and ending cells with an ellipsis, which turns ``0.123456`` into ``0.12…``. Here the
console is as wide as the table needs instead: a terminal narrower than that wraps the
lines, but every value is printed whole.
"""

from __future__ import annotations

from typing import IO, Any


def print_table(table: Any, *, stderr: bool = False, file: IO[str] | None = None) -> None:
    """Print a ``rich.table.Table`` at its natural width."""
    from rich.console import Console
    from rich.measure import Measurement

    probe = Console(width=100_000)
    need = Measurement.get(probe, probe.options, table).maximum
    Console(width=max(need, 20), stderr=stderr, file=file).print(table)
