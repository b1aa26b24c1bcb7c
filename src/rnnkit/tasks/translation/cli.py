"""The translation task's use command: ``rnnkit translate RUN "text"``.

    rnnkit translate runs/mt "In the beginning God created the heavens and the earth." --beam 5
    rnnkit translate runs/mt --file sentences.txt --nbest 3 --json
    rnnkit translate runs/mt "Jesus wept." --plot attention.png     # the attention heat map

``rnnkit evaluate runs/mt --split test`` (the generic command) prints BLEU and chrF.
No torch at import time (``rnnkit --help`` imports this module): the work is imported inside.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from rnnkit.errors import DataError


def plot_attention(translation: Any, path: Path) -> Path:
    """The attention weights (target tokens x source tokens) as a heat map, written atomically."""
    from rnnkit.models.plotting import figure_format, new_figure, save_png

    figure_format(path, "plot")  # refuse a bad suffix before any drawing
    if not translation.attention:
        raise DataError("this model has no attention (attention='none'): there is no map to plot.")
    rows, cols = len(translation.tokens), len(translation.source_tokens)
    fig = new_figure(max(4.0, 0.35 * cols + 2), max(3.0, 0.3 * rows + 1.5))
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(translation.attention, cmap="viridis", vmin=0.0, aspect="auto")
    ax.set_xticks(range(cols), [t.strip() or "␣" for t in translation.source_tokens], rotation=90, fontsize=8)
    ax.set_yticks(range(rows), [t.strip() or "␣" for t in translation.tokens], fontsize=8)
    ax.set_xlabel("source (English subwords)")
    ax.set_ylabel("translation (subwords)")
    fig.colorbar(image, ax=ax, fraction=0.04)
    return save_png(fig, path)


def translate(
    run: Annotated[Path, typer.Argument(help="A translation run directory.")],
    text: Annotated[str | None, typer.Argument(help="The sentence to translate.")] = None,
    file: Annotated[
        Path | None, typer.Option(help="Translate each non-empty line of this file ('-': standard input).")
    ] = None,
    beam: Annotated[int | None, typer.Option(help="Beam width (1 = greedy); default: the run's.")] = None,
    nbest: Annotated[int, typer.Option(help="How many translations per sentence, best first.")] = 1,
    batch_size: Annotated[int, typer.Option(help="Sentences decoded together.")] = 32,
    plot: Annotated[
        Path | None, typer.Option(help="Write the first sentence's attention heat map here (.png/.svg/.pdf).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Translate a sentence (or each line of --file); the best translation, or the n best with scores."""
    from rnnkit.tasks.inputs import read_lines
    from rnnkit.tasks.translation.predictor import Translator

    if text is None and file is None:
        raise DataError("give a sentence to translate, or --file with one sentence per line.")
    texts = [] if text is None else [text]
    if file is not None:
        texts += read_lines(file)
        if not texts:
            raise DataError(f"file {str(file)!r} has no non-empty line to translate.")
    if plot is not None:
        from rnnkit.models.plotting import figure_format

        figure_format(plot, "plot")
    tr = Translator.load(run)
    results = tr.translate(texts, beam=beam, nbest=nbest, batch_size=batch_size, attention=plot is not None)
    if plot is not None:
        plot_attention(results[0][0], plot)
    if as_json:
        payload = [
            {
                "source": t,
                "translations": [
                    {k: v for k, v in h.to_dict().items() if k != "attention" or plot} for h in hyps
                ],
            }
            for t, hyps in zip(texts, results, strict=True)
        ]
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    for t, hyps in zip(texts, results, strict=True):
        if len(texts) > 1:
            typer.echo(f"{t}")
        for h in hyps:
            typer.echo(f"{h.text}" if nbest == 1 else f"{h.score:.3f}\t{h.text}")
        if len(texts) > 1:
            typer.echo("")
    if plot is not None:
        typer.echo(f"attention map: {plot}", err=True)


COMMANDS = {"translate": translate}
