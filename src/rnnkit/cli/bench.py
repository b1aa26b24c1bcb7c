"""``rnnkit bench ...``: measured benchmarks, one command each.

    rnnkit bench memory --task adding --cells simple,lstm,gru --lengths 50,100,200,500 \\
        --steps 3000 --plot adding.png --output adding.json [--json]

``memory`` trains each cell on a long-memory task at each length and reports the
final held-out loss against the memoryless baseline (rnnkit.tasks.memory).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from rnnkit.cli.diagnose import command_line, parse_cells, parse_ints
from rnnkit.cli.groups import LightHelpGroup
from rnnkit.labs.names import CELL_NAMES, TASKS, check_lengths, check_task
from rnnkit.tasks.tables import print_table
from rnnkit.utils.io import atomic_write_json

app = typer.Typer(cls=LightHelpGroup, no_args_is_help=True, add_completion=False, help="Measured benchmarks.")


@app.callback()
def _group() -> None:
    """Measured benchmarks."""


@app.command()
def memory(
    task: Annotated[str, typer.Option(help=f"Which task: {', '.join(TASKS)}.")] = "adding",
    cells: Annotated[
        str, typer.Option(help=f"Comma-separated cells: {', '.join(CELL_NAMES)}.")
    ] = "simple,lstm,gru",
    lengths: Annotated[
        str, typer.Option(help="Comma-separated sequence lengths T (each >= 2).")
    ] = "50,100,200",
    steps: Annotated[int, typer.Option(help="Training steps (at most) per cell and length.")] = 1000,
    units: Annotated[int, typer.Option(help="Hidden units H.")] = 64,
    batch_size: Annotated[int, typer.Option(help="Sequences per training step.")] = 64,
    learning_rate: Annotated[float, typer.Option(help="Adam learning rate.")] = 2e-3,
    clipnorm: Annotated[
        float, typer.Option(help="Clip the global gradient norm to this (0 = no clipping).")
    ] = 1.0,
    stop_below: Annotated[
        float, typer.Option(help="Stop a run early once its held-out loss is below this (0 = never).")
    ] = 0.0,
    max_minutes: Annotated[
        float, typer.Option(help="Stop a run after this many minutes of training (0 = no limit).")
    ] = 0.0,
    eval_every: Annotated[int, typer.Option(help="Held-out evaluation every N steps.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of weights and data.")] = 0,
    plot: Annotated[Path | None, typer.Option(help="Write loss-vs-T to this PNG.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON to stdout.")] = False,
    json_path: Annotated[
        Path | None, typer.Option("--output", help="Write the results here (updated after every run).")
    ] = None,
) -> None:
    """Adding problem or copy memory: final loss against T per cell, with the no-memory baseline."""
    from rich.console import Console

    from rnnkit.labs.memory import MemoryResults, run_memory_benchmark

    check_task(task)
    names = parse_cells(cells)
    ts = check_lengths(parse_ints("lengths", lengths))
    command = command_line()
    console = Console(stderr=True)

    def save(results: MemoryResults) -> None:
        row = results.rows[-1]
        console.print(
            f"{row.cell} T={row.length}: {results.metric} {row.final_loss:.4g} "
            f"(baseline {row.baseline:.4g}) after {row.steps} steps, {row.seconds:.0f} s"
        )
        if json_path is not None:  # after every run, so a long benchmark leaves partial results
            atomic_write_json(json_path, {"command": command, **results.to_dict()}, indent=1)

    results = run_memory_benchmark(
        task,
        names,
        ts,
        steps,
        units=units,
        batch_size=batch_size,
        learning_rate=learning_rate,
        clipnorm=clipnorm or None,
        seed=seed,
        eval_every=eval_every,
        stop_below=stop_below or None,
        max_seconds=max_minutes * 60 or None,
        on_row=save,
        on_eval=lambda cell, T, step, loss: console.log(f"{cell} T={T} step {step}: {loss:.4g}"),
    )
    if plot is not None:
        from rnnkit.labs.memory_results import plot_memory_results

        plot_memory_results(results, plot)
    if as_json:  # stdout carries the JSON alone; what was written goes to stderr
        typer.echo(json.dumps({"command": command, **results.to_dict()}, indent=1))
    else:
        _print_table(results)
    for path in (json_path, plot):
        if path is not None:
            typer.echo(f"wrote {path}", err=as_json)


def _print_table(results: Any) -> None:
    from rich.table import Table

    metric = results.metric
    table = Table(title=f"{results.task}: final held-out {metric} (baseline = no memory)")
    for col in ("cell", "T", metric, "baseline", "loss/baseline", "steps", "seconds"):
        table.add_column(col, justify="left" if col == "cell" else "right")
    for row in results.table():
        cells: list[Any] = [row["cell"], row["T"], f"{row[metric]:.4g}", f"{row['baseline']:.4g}",
                            f"{row['loss/baseline']:.3f}", row["steps"], f"{row['seconds']:.0f}"]  # fmt: skip
        table.add_row(*map(str, cells))
    print_table(table)


@app.command()
def speed(
    threads: Annotated[str, typer.Option(help="Comma-separated torch thread counts.")] = "1,2",
    sizes: Annotated[str, typer.Option(help="small (32x100x128->256), large (64x200x256->512).")] = "small",
    groups: Annotated[
        str, typer.Option(help="Comma-separated: fused, features, decode, scan.")
    ] = "fused,features,decode",
    reps: Annotated[int, typer.Option(help="Alternating repetitions per row (medians).")] = 5,
    keras_reps: Annotated[int, typer.Option(help="Repetitions for Keras (0 = skip Keras).")] = 0,
    quick: Annotated[bool, typer.Option(help="Uni-directional 1-layer fused rows only.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON to stdout.")] = False,
    json_path: Annotated[Path | None, typer.Option("--output", help="Write the results here.")] = None,
) -> None:
    """rnnkit's layers against torch.nn (and Keras), measured side by side: ratios, not lone times."""
    from rich.console import Console

    from rnnkit.benchmarks.speed import run_suite

    console = Console()
    results = run_suite(
        threads=parse_ints("threads", threads),
        sizes=[s for s in sizes.split(",") if s],
        groups=[g for g in groups.split(",") if g],
        reps=reps,
        keras_reps=keras_reps,
        quick=quick,
        on_row=lambda row: None if as_json else console.print(_speed_line(row)),
    )
    payload = {"command": command_line(), **results}
    if json_path is not None:
        atomic_write_json(json_path, payload)
    if as_json:
        typer.echo(json.dumps(payload, indent=1))


def _speed_line(row: dict[str, Any]) -> str:
    keys = ("group", "size", "kind", "feature", "mode", "kernel", "rnnkit/torch", "rnnkit/floor", "speedup")
    return "  ".join(
        f"{k}={row[k]:.3f}" if isinstance(row[k], float) else f"{k}={row[k]}" for k in keys if k in row
    )
