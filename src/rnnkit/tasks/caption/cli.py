"""The captioning task's use command: ``rnnkit caption RUN image.png [--beam 3] [--plot F] [--json]``.

No torch at import time (``rnnkit --help`` imports this module): the work is imported inside.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def caption(
    run: Annotated[Path, typer.Argument(help="A caption run directory (rnnkit train caption ...).")],
    image: Annotated[Path, typer.Argument(help="An image file (PNG, JPEG, ...; any size or colour mode).")],
    beam: Annotated[int, typer.Option(help="Beam width; 1 is greedy search.")] = 1,
    plot: Annotated[
        Path | None, typer.Option(help="Write the attention over the image for each word to this PNG.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Describe an image in words; --plot shows where the decoder looked for each word."""
    from rnnkit.tasks.caption.predictor import CaptionPredictor

    predictor = CaptionPredictor.load(run)
    result = predictor.caption(image, beam=beam)
    if plot is not None:
        predictor.plot_attention(image, result, plot)
    if as_json:
        payload = {
            "image": str(image),
            "caption": result.text,
            "words": result.words,
            "log_prob": result.log_prob,
            "attention": None if result.attention is None else result.attention.round(4).tolist(),
        }
        if plot is not None:
            payload["plot"] = str(plot)
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    typer.echo(result.text)
    if plot is not None:
        typer.echo(f"attention per word: {plot}", err=True)


COMMANDS = {"caption": caption}
