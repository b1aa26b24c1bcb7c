"""The commands task's use command: ``rnnkit recognize RUN clip.wav [--json]``.

No torch at import time (``rnnkit --help`` imports this module): the work is imported inside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rnnkit.tasks.audio.cli import echo_per_file


def recognize(
    run: Annotated[Path, typer.Argument(help="A commands run directory (rnnkit train commands).")],
    audio: Annotated[list[Path], typer.Argument(help="WAV files: any bit depth, rate or channels.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Recognise the spoken command (or _unknown_ / _silence_) in WAV files."""
    from rnnkit.tasks.commands.predictor import CommandRecognizer

    model = CommandRecognizer.load(run)
    results = [(p, model.recognize(p)) for p in audio]
    echo_per_file(results, as_json, lambda r: f"{r.command}  (p={r.probabilities[r.command]:.3f})")


COMMANDS = {"recognize": recognize}
