"""``rnnkit export RUN_DIR --format onnx --output m.onnx``: a trained model in another format.

RUN_DIR is a run directory (its ``model.safetensors`` is exported) or a model file
(``.safetensors``, ``.keras``, Keras ``.h5``). The ONNX exporter writes Sequential,
functional and traceable subclassed models, the sentiment and forecasting tasks' included
(see ``rnnkit.models.onnx_export``); ``--format keras`` writes a Keras 3 ``.keras`` file.
Torch is imported inside the command, so ``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rnnkit.errors import ConfigError, invalid

FORMATS = ("onnx", "keras")


def export(
    run_dir: Annotated[
        Path, typer.Argument(help="A run directory, or a model file (.safetensors, .keras, .h5).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write (e.g. model.onnx).")],
    format: Annotated[str, typer.Option("--format", help="onnx or keras.")] = "onnx",
) -> None:
    """Export a trained model to ONNX (dynamic batch and length) or to a Keras 3 .keras file."""
    if format not in FORMATS:
        raise ConfigError(invalid("--format", format, list(FORMATS)))
    suffix = {"onnx": ".onnx", "keras": ".keras"}[format]
    if output.suffix.lower() != suffix:
        raise ConfigError(
            invalid("--output", str(output), f"a file name ending in {suffix} for --format {format}")
        )
    model = _load(run_dir)
    if format == "onnx":
        model.export(output, format="onnx")
    else:
        model.save(output)
    typer.echo(f"wrote {output}")


def _load(path: Path) -> object:
    from rnnkit.models import load_model

    if path.is_dir():
        from rnnkit.tasks import registry, runs

        opened = runs.open_run(path)
        registry.get(opened.task).predictor_class()  # imports the task, so its model class is known
        return load_model(opened.path / runs.MODEL_FILE, compile=False)
    if not path.is_file():
        raise ConfigError(invalid("RUN_DIR", str(path), "a run directory or a model file that exists"))
    return load_model(path, compile=False)
