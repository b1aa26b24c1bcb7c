"""``rnnkit train TASK``: one sub-command per registry task, its options built from the task's config.

    rnnkit train sentiment --out runs/sent --data reviews.csv --epochs 3 --units 64
    rnnkit train lm --out runs/lm --config configs/char_lm.toml --set dropout=0.1

Every task takes the common options (:class:`rnnkit.tasks.runs.TrainOptions`: ``--out``
(required), ``--config``, ``--epochs``, ``--seed``, ``--threads``, ``--quiet``,
``--resume/--no-resume``, ``--overwrite``, ``--max-steps``, ``--max-samples``), ``--set KEY=VALUE``
for any config field, and one ``--field-name`` option per field of its config dataclass (help
text from the field's comment). Precedence: flags > ``--set`` > the ``--config`` preset > defaults.

Commands are built when asked for (the registry's config classes import no torch), so
``rnnkit train --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from pathlib import Path
from typing import Annotated, Any

import typer

from rnnkit.cli.groups import LightHelpGroup
from rnnkit.config import field_types, parse_value
from rnnkit.errors import ConfigError
from rnnkit.tasks import registry

# The options every task's train takes; a config field of the same name is set by them.
COMMON = ("epochs", "seed", "threads", "max_steps", "max_samples")
_RESERVED = {"out", "config", "set", "quiet", "resume", "overwrite"}
_REQUIRED: Any = inspect.Parameter.empty
# (parameter, default, type, option names, typer.Option arguments): every task's train takes these.
COMMON_OPTIONS: list[tuple[str, Any, Any, tuple[str, ...], dict[str, Any]]] = [
    ("out", _REQUIRED, Path, ("--out",), {"help": "Run directory to write (created if missing)."}),
    ("config_file", None, Path | None, ("--config",), {"help": "A TOML preset (configs/*.toml)."}),
    (
        "set_values",
        None,
        list[str] | None,
        ("--set",),
        {"metavar": "KEY=VALUE", "help": "Set any config field (repeatable); unknown keys are errors."},
    ),
    ("epochs", None, int | None, (), {"min": 0, "help": "Epochs to train (in all, across resumes)."}),
    ("seed", None, int | None, (), {"min": 0, "help": "Random seed (weights, shuffling)."}),
    ("threads", None, int | None, (), {"min": 1, "help": "Torch CPU threads."}),
    ("quiet", False, bool, ("--quiet",), {"help": "No progress bar or epoch lines."}),
    (
        "resume",
        None,
        bool | None,
        ("--resume/--no-resume",),
        {"help": "Resume from the checkpoint (default: when the run has one); --no-resume starts over."},
    ),
    ("overwrite", False, bool, ("--overwrite",), {"help": "Delete the run directory's files first."}),
    ("max_steps", None, int | None, (), {"min": 1, "help": "At most this many batches per epoch."}),
    ("max_samples", None, int | None, (), {"min": 1, "help": "At most this many training samples."}),
]


def field_comments(cls: type) -> dict[str, str]:
    """Each field's trailing comment in the class source (``units: int = 128  # why``)."""
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        for line in source.splitlines():
            m = re.match(r"\s+(\w+)\s*:[^#]*#\s*(.+)$", line)
            if m:
                comments[m.group(1)] = m.group(2).strip()
    return comments


def _metavar(hint: Any) -> str:
    base = hint
    for arg in typing.get_args(hint) or (hint,):
        if arg is not type(None):
            base = arg
    if typing.get_origin(base) in (list, tuple):
        return "A,B,..."
    return {int: "INT", float: "FLOAT"}.get(base, "TEXT")


def _is_bool(hint: Any) -> bool:
    return hint is bool or set(typing.get_args(hint)) == {bool, type(None)}


def build_command(task: registry.Task) -> Any:
    """The ``rnnkit train <task>`` command (a typer command) for one registry task."""
    config_cls = task.config_class()
    hints = field_types(config_cls)
    comments = field_comments(config_cls)
    defaults = {f.name: f.default for f in dataclasses.fields(config_cls)}

    P = inspect.Parameter
    params = [
        P(name, P.KEYWORD_ONLY, default=default, annotation=Annotated[hint, typer.Option(*decls, **kw)])
        for name, default, hint, decls, kw in COMMON_OPTIONS
    ]
    fields = [n for n in hints if n not in COMMON and n not in _RESERVED]
    for name in fields:
        flag = "--" + name.replace("_", "-")
        default = defaults[name]
        shown = "" if default is dataclasses.MISSING else f" [default: {default}]"
        help_text = (comments.get(name, "") + shown).strip()
        if _is_bool(hints[name]):
            option = typer.Option(f"{flag}/--no-{name.replace('_', '-')}", help=help_text, show_default=False)
            params.append(P(name, P.KEYWORD_ONLY, default=None, annotation=Annotated[bool | None, option]))
        else:
            # Parsed by rnnkit.config.parse_value: the field's type, lists comma-separated, "none".
            option = typer.Option(flag, metavar=_metavar(hints[name]), help=help_text, show_default=False)
            params.append(P(name, P.KEYWORD_ONLY, default=None, annotation=Annotated[str | None, option]))

    def command(**kw: Any) -> None:
        from rnnkit.tasks.runs import TrainOptions, is_writer

        options = TrainOptions(
            out=kw["out"],
            epochs=kw["epochs"],
            seed=kw["seed"],
            threads=kw["threads"],
            quiet=kw["quiet"],
            resume=kw["resume"],
            overwrite=kw["overwrite"],
            max_steps=kw["max_steps"],
            max_samples=kw["max_samples"],
        )
        values = config_cls.from_overrides(kw["set_values"] or ())
        for n in fields:
            if kw[n] is not None:
                values[n] = kw[n] if isinstance(kw[n], bool) else parse_value(n, kw[n], hints[n])
        values.update(options.overrides(config_cls))
        if kw["config_file"] is not None:
            cfg = config_cls.from_toml(kw["config_file"], values, section=task.preset_section)
        else:
            cfg = config_cls.from_dict(values)
        try:
            metrics = task.train_function()(cfg, options)
        finally:
            _leave_process_group()
        if is_writer():
            _record_command(options.out)
            report = task.resolve("report")
            if report is not None:
                report(metrics, options)
            typer.echo(f"saved {options.out}: {summary(metrics)}")

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = task.help
    single = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)
    single.command(task.name, help=task.help, short_help=task.help)(command)
    return typer.main.get_command(single)


def _leave_process_group() -> None:
    """Under torchrun: every process reaches this point before any leaves the group."""
    from rnnkit.tasks.runs import process_rank

    if process_rank()[1] > 1:
        from rnnkit.models import distributed

        distributed.cleanup()


def _record_command(out: Path) -> None:
    """metrics.json gets the command line that made it (every figure says where it came from)."""
    import shlex
    import sys

    from rnnkit.tasks import runs

    path = Path(out) / runs.METRICS_FILE
    if not path.exists():
        return
    run = runs.open_run(out)
    metrics = run.read_json(runs.METRICS_FILE)
    if isinstance(metrics, dict):
        metrics["command"] = "rnnkit " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        run.write_json(runs.METRICS_FILE, metrics)


def summary(metrics: dict[str, Any]) -> str:
    """The test figures of a metrics dict, one line (``test_accuracy=0.8820, ...``)."""
    shown = [f"{k}={v:.4f}" for k, v in metrics.items() if k.startswith("test_") and isinstance(v, float)]
    return ", ".join(shown) or "done"


class TrainGroup(LightHelpGroup):
    """``train``'s sub-commands: the registry's tasks, each built when first asked for."""

    def list_commands(self, ctx: Any) -> list[str]:
        return registry.names()

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # The registry's one-line help: listing the tasks builds none of their commands.
        with formatter.section("Commands"):
            formatter.write_dl([(t.name, t.help) for t in registry.TASKS])

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        try:
            task = registry.get(cmd_name)
        except ConfigError:
            return None  # click reports "No such command", a usage error (exit 2)
        return build_command(task)


app = typer.Typer(
    cls=TrainGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Train a model for a task into a run directory.",
)
