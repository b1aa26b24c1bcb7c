"""The language model's use commands: ``rnnkit suggest`` and ``rnnkit generate``.

    rnnkit suggest runs/lm "I love dee" --top-k 3 [--json] [--int8]
    rnnkit generate runs/lm --prompt "..." --length 200 --temperature 0.8 [--top-k K] [--top-p P] [--seed S]

No torch at import time (``rnnkit --help`` imports this module): the work is imported inside.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer


def _echo_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))


def format_probability(p: float) -> str:
    """A probability that says something: 12.3%, 0.042%, 3.1e-07 -- never 0.0000."""
    if p >= 0.001:
        return f"{100 * p:.3g}%"
    return f"{p:.2g}"


def suggest(
    run: Annotated[Path, typer.Argument(help="A language-model run directory.")],
    text: Annotated[str, typer.Argument(help="Text typed so far; a last word without a space is completed.")],
    top_k: Annotated[int, typer.Option(help="How many distinct words to suggest.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    int8: Annotated[bool, typer.Option("--int8", help="Decode with int8 weights: ~4x faster steps.")] = False,
) -> None:
    """Suggest the next word (completing a partly typed one), with probabilities."""
    from rnnkit.tasks.language_model.predictor import LanguageModel, check_top_k

    check_top_k(top_k)
    suggestions = LanguageModel.load(run, int8=int8).suggest(text, top_k)
    if as_json:
        _echo_json([s.to_dict() for s in suggestions])
        return
    if not suggestions:
        typer.echo("no suggestion: no word in the vocabulary starts like the last word typed")
    for s in suggestions:
        typer.echo(f"{s.word}\t{format_probability(s.probability)}")


def generate(
    run: Annotated[Path, typer.Argument(help="A language-model run directory.")],
    prompt: Annotated[str, typer.Option(help="Text to continue (may be empty).")] = "",
    length: Annotated[int, typer.Option(help="Tokens to generate (words or characters).")] = 200,
    temperature: Annotated[
        float,
        typer.Option(help="Sampling temperature; lower is more conservative, 0 = always the most likely."),
    ] = 1.0,
    top_k: Annotated[int | None, typer.Option(help="Sample only from the K most likely tokens.")] = None,
    top_p: Annotated[float | None, typer.Option(help="Sample from the smallest set with mass >= P.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same text).")] = None,
    int8: Annotated[bool, typer.Option("--int8", help="Decode with int8 weights: ~4x faster steps.")] = False,
) -> None:
    """Generate text after a prompt, streamed token by token."""
    from rnnkit.tasks.language_model.predictor import LanguageModel, check_sampling

    check_sampling(length, temperature, top_k, top_p)
    lm = LanguageModel.load(run, int8=int8)
    typer.echo(prompt, nl=False)
    for piece in lm.iter_generate(prompt, length, temperature, top_k, top_p, seed):
        typer.echo(piece, nl=False)
    typer.echo()


COMMANDS = {"suggest": suggest, "generate": generate}
