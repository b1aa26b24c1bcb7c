"""bench/*.py are thin entry points: the measuring code lives in rnnkit.benchmarks."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
# every entry point (common.py re-exports rnnkit.benchmarks.common for older scripts)
MOVED = sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in ("__init__", "common"))


@pytest.mark.parametrize("name", MOVED)
def test_entry_point_only_calls_the_package_main(name):
    tree = ast.parse((BENCH / f"{name}.py").read_text())
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    found = [(getattr(i, "module", None), [a.name for a in i.names]) for i in imports]
    # speed.py also imports os, to set KERAS_BACKEND before anything imports keras
    assert [f for f in found if f != (None, ["os"])] == [(f"rnnkit.benchmarks.{name}", ["main"])]
    assert callable(importlib.import_module(f"rnnkit.benchmarks.{name}").main)


def test_no_entry_point_edits_sys_path():
    for path in sorted(BENCH.glob("*.py")):
        assert "sys.path" not in path.read_text(), path.name


def test_caption_train_command_names_only_non_default_keys():
    from rnnkit.benchmarks.caption import train_command
    from rnnkit.tasks.caption.config import CaptionConfig

    config = CaptionConfig().to_dict() | {"model": "slots", "units": 512, "threads": 3}
    assert train_command("runs/cap", config) == (
        "rnnkit train caption --out runs/cap --model slots --units 512"
    )
