"""Every code block of the docs site runs, so the guide cannot rot.

- ```` ```python ```` and ```` ```bash ```` blocks of a page run in the page's order, as a reader
  would run them, in one fresh interpreter per page and an empty temporary folder: a later
  Python block sees what an earlier one defined, and a command sees the files an earlier block
  wrote (a run directory trained from Python, then used by ``rnnkit predict``).
- ```` ```bash ```` blocks run with ``bash -euo pipefail`` in that folder, with the project's
  ``rnnkit`` command on PATH.
- ```` ```shell ```` blocks are the recorded commands of benchmarks that take minutes to hours
  (each is the command stored in its ``bench/results`` file): their ``rnnkit`` lines are parsed
  by the real CLI (unknown commands or options fail the test) but not run.
- ```` ```text ```` blocks are output, diagrams and file layouts: not code.

A fence with any other language fails the test, so nothing slips through unrun.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
KINDS = {"python", "bash", "shell", "text"}
PAGE_TIMEOUT = 900  # a task page trains a tiny model (15-20 s of CPU); the machine may be shared


# Pages whose code may not run yet, by name, so the list cannot grow silently. Empty: the
# contract page shows its sketches of a task's files as ```text and runs a check of the registry.
NOT_YET_RUNNABLE: set[str] = set()


def pages() -> list[Path]:
    return sorted(
        p for p in DOCS.rglob("*.md") if "generated" not in p.parts and p.name not in NOT_YET_RUNNABLE
    )


def blocks(page: Path) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(page.read_text(encoding="utf-8"))]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("KERAS_BACKEND", "torch")
    env["MPLBACKEND"] = "Agg"
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"
    return env


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    proc = subprocess.run(
        cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=PAGE_TIMEOUT, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"{what} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


# A page becomes one Python script: its Python blocks as they are, each bash block as a call
# of this helper at its place, so blocks share one interpreter and run in the page's order.
BASH_HELPER = """
def _docs_bash(number, code):
    import subprocess, sys
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], check=False)
    if done.returncode != 0:
        sys.exit(f"bash block {number} failed (exit {done.returncode})")
"""


def page_script(found: list[tuple[str, str]]) -> str:
    """The page's python and bash blocks, in order, as one script (``""`` when it has none)."""
    parts, bash = [], 0
    for kind, code in found:
        if kind == "python":
            parts.append(code)
        elif kind == "bash":
            bash += 1
            parts.append(f"_docs_bash({bash}, {code!r})\n")
    if not parts:
        return ""
    return (BASH_HELPER if bash else "") + "\n\n".join(parts)


def _marked(page: Path) -> object:
    """Task pages train tiny models (10-20 s of CPU each): ``slow``, so ``make test-fast`` skips them."""
    return pytest.param(page, marks=pytest.mark.slow) if "tasks" in page.relative_to(DOCS).parts else page


@pytest.mark.parametrize("page", [_marked(p) for p in pages()], ids=lambda p: str(p.relative_to(DOCS)))
def test_page_code_runs(page: Path, tmp_path: Path) -> None:
    found = blocks(page)
    unknown = sorted({kind for kind, _ in found} - KINDS)
    assert not unknown, f"{page.name}: code fences must be one of {sorted(KINDS)}, found {unknown}"
    script = page_script(found)
    if script:
        (tmp_path / "page.py").write_text(script, encoding="utf-8")
        _run([sys.executable, "page.py"], tmp_path, f"{page.name}: code blocks")


def _rnnkit_lines(code: str) -> list[list[str]]:
    """The ``rnnkit ...`` commands of a shell block (continuations joined, env prefixes dropped)."""
    joined = code.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            words = words[1:]
        if words and words[0] == "rnnkit":
            commands.append(words[1:])
    return commands


def test_recorded_commands_parse() -> None:
    """Each recorded ``rnnkit`` command still names a real command with real options."""
    from typer.main import get_command

    from rnnkit.cli.main import app

    cli = get_command(app)
    checked = 0
    for page in pages():
        for kind, code in blocks(page):
            if kind != "shell":
                continue
            for args in _rnnkit_lines(code):
                ctx = cli.make_context("rnnkit", list(args), resilient_parsing=False)
                # descend into groups the way click would, parsing (not invoking) the leaf command
                # click 8.2 keeps a group's subcommand words in _protected_args
                while hasattr(ctx.command, "commands") and (getattr(ctx, "_protected_args", []) + ctx.args):
                    rest = getattr(ctx, "_protected_args", []) + ctx.args
                    sub = ctx.command.get_command(ctx, rest[0])
                    shown = f"rnnkit {shlex.join(args)}"
                    assert sub is not None, f"{page.name}: no command {rest[0]!r} in `{shown}`"
                    ctx = sub.make_context(rest[0], rest[1:], parent=ctx)
                checked += 1
    assert checked > 0
