"""What the audio tasks' use commands share: one result per WAV file, printed or as JSON.

No torch here (``rnnkit --help`` imports the task CLIs that import this).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import typer


def echo_per_file(results: Sequence[tuple[Path, Any]], as_json: bool, line: Callable[[Any], str]) -> None:
    """``results`` (file, result with ``to_dict()``): a JSON list of ``{"file", **result}``, or one
    ``line(result)`` per file, prefixed by the file's path when there are several."""
    if as_json:
        typer.echo(json.dumps([{"file": str(p), **r.to_dict()} for p, r in results], indent=2))
        return
    for p, r in results:
        prefix = f"{p}: " if len(results) > 1 else ""
        typer.echo(f"{prefix}{line(r)}")
