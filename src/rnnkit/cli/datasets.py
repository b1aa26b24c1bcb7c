"""``rnnkit datasets list`` and ``rnnkit datasets show NAME``: the bundled datasets."""

from __future__ import annotations

from typing import Annotated

import typer

from rnnkit.cli.groups import LightHelpGroup
from rnnkit.tasks.tables import print_table

app = typer.Typer(
    cls=LightHelpGroup,
    no_args_is_help=True,
    add_completion=False,
    help="Bundled real datasets (no downloads).",
)


def _fmt_splits(splits: dict[str, int]) -> str:
    return " / ".join(f"{k} {v:,}" for k, v in splits.items())


@app.command("list")
def list_command() -> None:
    """List every bundled dataset with its task, size and license."""
    from rich.markup import escape
    from rich.table import Table

    from rnnkit import datasets

    table = Table(title="rnnkit datasets", show_lines=False)
    for col in ("name", "task", "size", "splits", "license"):
        table.add_column(col, overflow="fold")
    for d in datasets.list_datasets():
        name = d.name + (f" [{', '.join(d.variants)}]" if d.variants else "")
        table.add_row(escape(name), d.task, d.size, _fmt_splits(d.splits), escape(d.license))
    print_table(table)  # its natural width: never cut, never padded to a fixed 160


@app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="Dataset name, optionally with a variant: stocks:IBM.")],
    samples: Annotated[int, typer.Option("--samples", "-n", help="How many training examples to print.")] = 3,
    load: Annotated[bool, typer.Option(help="Load the data to print real split sizes and samples.")] = True,
) -> None:
    """Describe one dataset: source, license, size, splits and a few samples."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from rnnkit import datasets

    console = Console(width=160)
    # A bad name raises ConfigError; rnnkit.cli.main turns it into one line on stderr and exit code 2.
    meta = datasets.info(name)
    ds = datasets.load(name) if load else None
    table = Table(show_header=False, title=name)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("task", meta.task),
        ("description", meta.description),
        ("source", meta.source),
        ("license", meta.license),
        ("size", meta.size),
        ("splits", _fmt_splits(ds.splits if ds is not None else meta.splits)),
    ]
    if meta.variants:
        rows.append(("variants", ", ".join(meta.variants) + f" (default {meta.default_variant})"))
    rows.append(("needs", meta.requires))
    for key, value in rows:
        table.add_row(key, escape(value))  # escape: "rnnkit[datasets]" is not rich markup
    console.print(table)
    if ds is not None and samples > 0:
        console.print("[bold]samples[/bold]")
        for s in ds.samples(samples):
            console.print("  " + (s if len(s) <= 300 else s[:297] + "..."), markup=False, highlight=False)
