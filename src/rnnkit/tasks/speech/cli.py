"""The speech task's use command: ``rnnkit transcribe RUN clip.wav [--beam 8] [--no-lm] [--json]``.

No torch at import time (``rnnkit --help`` imports this module): the work is imported inside.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rnnkit.errors import ConfigError, invalid
from rnnkit.tasks.audio.cli import echo_per_file


def transcribe(
    run: Annotated[Path, typer.Argument(help="A speech run directory (rnnkit train speech).")],
    audio: Annotated[list[Path], typer.Argument(help="WAV files: any bit depth, rate or channels.")],
    beam: Annotated[
        int | None, typer.Option(help="Prefix beam width; 0 = greedy. Default: the run's.")
    ] = None,
    lm: Annotated[
        bool, typer.Option("--lm/--no-lm", help="Beam search with the word LM / vocabulary.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Transcribe WAV files with a trained CTC recogniser."""
    if beam is not None and beam < 0:
        raise ConfigError(invalid("beam", beam, "an integer >= 0 (0 = greedy)"))
    from rnnkit.tasks.speech.predictor import Transcriber

    model = Transcriber.load(run)
    results = [(p, model.transcribe(p, beam=beam, lm=lm)) for p in audio]
    echo_per_file(results, as_json, lambda t: t.text)


COMMANDS = {"transcribe": transcribe}
