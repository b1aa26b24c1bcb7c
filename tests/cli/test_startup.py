"""What `rnnkit --help` loads: the general commands lazily, no heavy library on any help path.

The time itself is measured by bench/cli_startup.py (a benchmark, not a timed test); these
tests hold the structure that keeps it short.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from rnnkit.cli.groups import load_command
from rnnkit.cli.main import GENERAL, task_commands

HELP_PATHS = [
    ["train", "--help"],
    ["train", "sentiment", "--help"],
    ["train", "forecast", "--help"],
    ["predict", "--help"],
    ["evaluate", "--help"],
    ["serve", "--help"],
    ["export", "--help"],
    ["datasets", "--help"],
    ["datasets", "list", "--help"],
    ["diagnose", "gradients", "--help"],
    ["bench", "speed", "--help"],
]
# One interpreter: `rnnkit --help`, then every other help path; prints what got imported.
PROBE = f"""
import sys
from rnnkit.cli.main import main

def run(argv):
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code == 0, (argv, exc.code)

def loaded(prefix, suffix=""):
    return sorted(m for m in sys.modules if m.startswith(prefix) and m.endswith(suffix))

run(["predict", "--help"])
print("after predict --help:", loaded("rnnkit.tasks.", ".cli"))
run(["--help"])
print("after --help:", loaded("rnnkit.cli."))
for argv in {HELP_PATHS!r}:
    run(argv)
print("heavy:", sorted(m for m in ("torch", "numpy", "pydantic", "rich") if m in sys.modules))
"""


@pytest.fixture(scope="module")
def probe():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line.split(":", 1) for line in out.stdout.splitlines() if ":" in line]
    return {key: value.strip() for key, value in lines}


def test_root_help_imports_no_general_command_module(probe):
    assert probe["after --help"] == "['rnnkit.cli.groups', 'rnnkit.cli.main']"


def test_a_task_command_imports_only_the_task_cli_modules_up_to_its_own(probe):
    assert probe["after predict --help"] == "['rnnkit.tasks.sentiment.cli']"


def test_task_command_names_are_unique():
    """The lazy lookup takes the first task with a name: a name defined twice must be an error."""
    assert "predict" in task_commands()  # raises RuntimeError on a name used twice


def test_no_help_path_imports_torch_numpy_pydantic_or_rich(probe):
    # pydantic: typer checks option values through it; a group's --help flag must not build one
    assert probe["heavy"] == "[]"


@pytest.mark.parametrize("name", list(GENERAL))
def test_listed_help_is_the_commands_own(name):
    """`rnnkit --help` lists the table's line; it must say what the command's own help says."""
    ref, listed = GENERAL[name]
    command = load_command(name, ref)
    own = " ".join((command.help or "").split())
    assert own.startswith(listed), (own, listed)
