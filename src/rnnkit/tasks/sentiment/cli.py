"""The sentiment task's use commands: ``rnnkit predict RUN "text"`` (or ``--file F``, ``--json``).

No torch at import time (``rnnkit --help`` imports this module): the work is imported inside.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from rnnkit.errors import DataError
from rnnkit.tasks.inputs import read_lines


def _echo_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))


def predict(
    run: Annotated[Path, typer.Argument(help="A sentiment run directory.")],
    text: Annotated[str | None, typer.Argument(help="The text to classify.")] = None,
    file: Annotated[
        Path | None, typer.Option(help="Classify each non-empty line of this file ('-': standard input).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Label a text (or each line of --file) and print the class probabilities."""
    from rnnkit.tasks.sentiment.predictor import SentimentClassifier

    if text is None and file is None:
        raise DataError("give a text to classify, or --file with one text per line.")
    texts = [] if text is None else [text]
    if file is not None:
        texts += read_lines(file)
        if not texts:
            raise DataError(f"file {str(file)!r} has no non-empty line to classify.")
    preds = SentimentClassifier.load(run).predict(texts)
    if as_json:
        _echo_json([{"text": t, **p.to_dict()} for t, p in zip(texts, preds, strict=True)])
        return
    for t, p in zip(texts, preds, strict=True):
        probs = "  ".join(f"{c}={v:.3f}" for c, v in p.probabilities.items())
        prefix = f"{t[:60]!r}: " if len(texts) > 1 else ""
        note = "" if p.known_words else "  [no word of this text is in the model's vocabulary: a guess]"
        typer.echo(f"{prefix}{p.label}  ({probs}){note}")


COMMANDS = {"predict": predict}
