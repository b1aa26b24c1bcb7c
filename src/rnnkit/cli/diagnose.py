"""``rnnkit diagnose gradients``: watch the gradient vanish (or explode) through time.

    rnnkit diagnose gradients --cells simple,lstm,gru --length 200 --plot grads.png --output grads.json

Prints, per cell, ||dL/dh_1|| / ||dL/dh_T|| and the spectral radius of each gate
block of the recurrent matrix; the plot shows ||dL/dh_t|| against t on a log scale.
The math is in docs/vanishing-gradients.md; the measurement in rnnkit.labs.gradients.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rnnkit.cli.groups import LightHelpGroup
from rnnkit.errors import ConfigError, invalid
from rnnkit.labs.names import CELL_NAMES, INITS, check_cells, check_init, check_length
from rnnkit.tasks.tables import print_table
from rnnkit.utils.io import atomic_write_json

app = typer.Typer(
    cls=LightHelpGroup, no_args_is_help=True, add_completion=False, help="Diagnose recurrent networks."
)


@app.callback()
def _group() -> None:
    """Diagnose recurrent networks (the vanishing-gradient lab)."""


def parse_cells(text: str) -> list[str]:
    """ "simple,lstm,gru" -> ["simple", "lstm", "gru"], validated (empty or unknown -> ConfigError)."""
    return check_cells([c for c in text.split(",") if c.strip()])


def parse_ints(name: str, text: str) -> list[int]:
    """ "50,100" -> [50, 100]; anything that is not an integer -> ConfigError naming ``name``."""
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(invalid(name, text, "comma-separated integers")) from None


def command_line() -> str:
    """The command as typed, stored in the JSON so a result says how it was made."""
    return "rnnkit " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _fmt(value: float) -> str:
    return f"{value:.3g}"


@app.command()
def gradients(
    cells: Annotated[
        str, typer.Option(help=f"Comma-separated cells: {', '.join(CELL_NAMES)}.")
    ] = "simple,lstm,gru",
    length: Annotated[int, typer.Option(help="Sequence length T (>= 2); the loss is on step T.")] = 200,
    units: Annotated[int, typer.Option(help="Hidden units H.")] = 64,
    init: Annotated[str, typer.Option(help=f"Recurrent initializer: {', '.join(INITS)}.")] = "orthogonal",
    plot: Annotated[Path | None, typer.Option(help="Write the log-scale plot to this PNG.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON to stdout.")] = False,
    json_path: Annotated[
        Path | None, typer.Option("--output", help="Write every number to this JSON file.")
    ] = None,
    train_steps: Annotated[
        int, typer.Option(help="Also measure after N training steps (adding problem).")
    ] = 0,
    batch_size: Annotated[int, typer.Option(help="Sequences in the measured batch.")] = 32,
    explode_gain: Annotated[
        float, typer.Option(help="Exploding demo: SimpleRNN with W_hh = gain x orthogonal (0 = skip).")
    ] = 2.0,
    forget_bias: Annotated[
        float | None, typer.Option(help="Also measure an LSTM whose forget-gate bias is this (Keras: 1).")
    ] = None,
    clipnorm: Annotated[float, typer.Option(help="Gradient clipping norm for training and the demo.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of weights and data.")] = 0,
) -> None:
    """||dL/dh_t|| and ||dL/dx_t|| for t = 1..T per cell, the recurrent spectra, and clipping."""
    from rich.console import Console

    from rnnkit.labs.gradients import gradient_report, plot_gradient_report

    names = parse_cells(cells)
    T = check_length(length)
    check_init(init)
    if train_steps < 0:
        raise ConfigError(invalid("train_steps", train_steps, "an integer >= 0"))
    console = Console(stderr=True)
    with console.status("measuring") as status:
        report = gradient_report(
            names,
            T,
            units=units,
            init=init,
            batch_size=batch_size,
            train_steps_=train_steps,
            clipnorm=clipnorm,
            seed=seed,
            explode_gain=explode_gain or None,
            forget_bias=forget_bias,
            on_progress=lambda msg: status.update(msg),
        )
    report["command"] = command_line()
    if json_path is not None:
        atomic_write_json(json_path, report, indent=1)
    if plot is not None:
        plot_gradient_report(report, plot)
    if as_json:  # stdout carries the JSON alone; what was written goes to stderr
        typer.echo(json.dumps(report, indent=1))
    else:
        _print_report(report)
    for path in (json_path, plot):
        if path is not None:
            typer.echo(f"wrote {path}", err=as_json)


def _print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    T = report["config"]["length"]
    table = Table(title=f"Gradient reaching step 1 from a loss at step T = {T}")
    for col in (
        "cell",
        "phase",
        "|dL/dh_1| / |dL/dh_T|",
        "|dL/dx_1| / |dL/dx_T|",
        "carry factor",
        "ρ(W_hh) per block",
    ):
        table.add_column(col)
    labels = {"init": "init", "init_forget_bias": f"init, forget bias {report['config']['forget_bias']}"}
    for name, entry in report["cells"].items():
        for phase in ("init", "init_forget_bias", "trained"):
            if phase not in entry:
                continue
            prof = entry[phase]
            spectra = entry["spectra_trained" if phase == "trained" else "spectra_init"]
            rho = " ".join(f"{k}:{v['spectral_radius']:.2f}" for k, v in spectra.items())
            carry = ", ".join(f"{k}={v:.3f}" for k, v in prof["carry"].items())
            ratios = _fmt(prof["ratio_h1_over_hT"]), _fmt(prof["ratio_x1_over_xT"])
            table.add_row(name, labels.get(phase, phase), *ratios, carry, rho)
    print_table(table)
    ex = report.get("exploding")
    if ex:
        runs = ex["runs"]
        before, after = _fmt(ex["grad_norm_at_init"]), _fmt(ex["grad_norm_after_clip"])
        no_clip, clip = runs["no_clip"], runs["clip"]
        Console().print(
            f"exploding: SimpleRNN, W_hh = {ex['gain']} x orthogonal (ρ = {ex['spectral_radius']:.2f}), "
            f"T = {min(T, 100)}: ||dL/dθ|| = {before} -> {after} after clipnorm={ex['clipnorm']}; "
            f"SGD without clipping: loss {_fmt(no_clip['final_loss'])} after {no_clip['steps']} steps, "
            f"with: {_fmt(clip['final_loss'])} after {clip['steps']}"
        )
