"""Printing tables that never cut a number short, at any terminal width or through a pipe.

rich fits a table to the console's width (80 columns when output is piped) by shrinking
columns and ending cells with an ellipsis, which turns ``0.123456`` into ``0.12…``. Here a
column whose cells are all numbers never shrinks below its widest value and never wraps;
text columns wrap between words (no ellipsis, never inside a word holding a digit) to fit the
terminal, or ``$COLUMNS`` (default 120) when the output is piped. Only when the numbers alone
are wider than that does the table grow past it.
"""

from __future__ import annotations

import os
import re
from typing import IO, Any

PIPED_WIDTH = 120  # rich's 80 wraps even short tables; a pipe has no width of its own
_NUMBER = re.compile(
    r"^[-+]?(\d[\d,_]*\.?\d*|\.\d+)([eE][-+]?\d+)?%?(\s*[±x×]\s*\S+)?$"  # 1,234.5e-3% / 0.93 ± 0.02
    r"|^(nan|inf|-inf|n/a|-|)$"
)


def _plain(cell: Any) -> str:
    from rich.errors import MarkupError
    from rich.text import Text

    if isinstance(cell, str):
        try:
            return Text.from_markup(cell).plain
        except MarkupError:
            return cell
    return str(getattr(cell, "plain", cell))


def _is_numeric(cells: list[str]) -> bool:
    """A column of numbers: at least one, and every non-empty cell one."""
    stripped = [c.strip() for c in cells]
    return any(stripped) and all(_NUMBER.match(c) for c in stripped)


def _width(console: Any) -> int:
    if console.is_terminal:
        return int(console.width)
    try:
        return max(40, int(os.environ.get("COLUMNS", PIPED_WIDTH)))
    except ValueError:
        return PIPED_WIDTH


def print_table(table: Any, *, stderr: bool = False, file: IO[str] | None = None) -> None:
    """Print a ``rich.table.Table``: numbers whole, text wrapped to the width."""
    from rich.console import Console
    from rich.measure import Measurement

    for column in table.columns:
        cells = [_plain(c) for c in column._cells]
        if _is_numeric(cells):
            column.no_wrap = True
            column.min_width = max(map(len, cells))
        else:
            column.overflow = "fold"  # wrap long words too, never an ellipsis
            # ... but never inside a number ("0.812..1.234", "28,998"): the column is at least
            # as wide as the longest word holding a digit.
            numbers = [w for c in cells for w in c.split() if any(ch.isdigit() for ch in w)]
            column.min_width = max([len(w) for w in numbers] + [column.min_width or 0])
    console = Console(stderr=stderr, file=file)
    probe = Console(width=100_000)
    least = Measurement.get(probe, probe.options, table).minimum
    console.width = max(_width(console), least, 20)
    console.print(table)
