"""Reading what a user points a command at: a text file, or standard input (``-``).

Every failure is a :class:`~rnnkit.errors.DataError` naming the file (the CLI prints it as one
line and exits 2): missing, a directory, bytes that are not UTF-8.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rnnkit.errors import DataError

STDIN_NAMES = ("-", "/dev/stdin")


def read_text_input(path: str | os.PathLike[str]) -> str:
    """The UTF-8 text of ``path``; ``-`` or ``/dev/stdin`` reads standard input."""
    name = os.fspath(path)
    if name in STDIN_NAMES:
        data, shown = sys.stdin.buffer.read(), "standard input"
    else:
        file = Path(name)
        if not file.exists():
            raise DataError(f"file {name!r} does not exist.")
        if file.is_dir():
            raise DataError(f"{name!r} is a directory: give a text file.")
        data, shown = file.read_bytes(), repr(name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"{shown} is not UTF-8 text: byte {data[exc.start]:#04x} on line {line}.") from None


def read_lines(path: str | os.PathLike[str]) -> list[str]:
    """The non-empty lines of ``path`` (or standard input)."""
    return [line for line in read_text_input(path).splitlines() if line.strip()]
