"""Merging ``rnnkit bench memory`` results: every run kept with its command, plotted from the merged rows."""

from __future__ import annotations

import json

import pytest

from rnnkit.errors import ConfigError
from rnnkit.tasks.memory import adding_baseline
from rnnkit.tasks.memory_results import (
    load_memory_rows,
    merge_memory_files,
    plot_memory_results,
    results_from_dict,
)


def _row(cell: str, length: int, loss: float, steps: int = 100) -> dict:
    base = adding_baseline()
    return {"cell": cell, "length": length, "final_loss": loss, "baseline": base, "steps": steps,
            "seconds": 1.5, "curve": [[steps, loss]], "ratio_to_baseline": loss / base}  # fmt: skip


def _run_file(path, command: str, rows: list[dict], task: str = "adding"):
    """The layout the CLI writes: one command and config at the top."""
    config = {"units": 64, "batch_size": 64, "learning_rate": 0.003, "steps": 100}
    path.write_text(
        json.dumps({"command": command, "task": task, "metric": "mse", "config": config, "rows": rows})
    )
    return path


def test_merge_keeps_every_run_with_its_command_and_reads_merged_files_back(tmp_path):
    a = _run_file(tmp_path / "a.json", "rnnkit A", [_row("gru", 200, 0.001), _row("simple", 50, 0.17)])
    b = _run_file(tmp_path / "b.json", "rnnkit B", [_row("lstm", 500, 0.17), _row("simple", 500, 0.168)])
    c = _run_file(tmp_path / "c.json", "rnnkit C", [_row("lstm", 500, 0.0014, steps=8250)])
    merged = merge_memory_files("adding", [a, b, c])
    got = [(r["cell"], r["length"], r["command"]) for r in merged["rows"]]
    assert got == [("simple", 50, "rnnkit A"), ("gru", 200, "rnnkit A"), ("simple", 500, "rnnkit B"),
                   ("lstm", 500, "rnnkit B"), ("lstm", 500, "rnnkit C")]  # fmt: skip
    assert merged["rows"][-1]["config"]["units"] == 64
    assert merged["rows"][-1]["ratio_to_baseline"] == pytest.approx(0.0014 / adding_baseline())

    # A merged file (command in each row) merges again with new runs; repeated rows count once.
    out = tmp_path / "merged.json"
    out.write_text(json.dumps(merged))
    task, rows = load_memory_rows(out)
    assert task == "adding" and [r["command"] for r in rows] == [g[2] for g in got]
    d = _run_file(tmp_path / "d.json", "rnnkit D", [_row("simple", 1000, 0.166)])
    again = merge_memory_files("adding", [out, a, d])
    assert len(again["rows"]) == 6 and again["rows"][-1]["length"] == 1000


def test_plot_from_merged_rows_with_two_runs_at_one_T(tmp_path):
    a = _run_file(tmp_path / "a.json", "rnnkit A", [_row("lstm", 200, 0.0015), _row("lstm", 500, 0.17)])
    b = _run_file(tmp_path / "b.json", "rnnkit B", [_row("lstm", 500, 0.0014), _row("simple", 500, 0.17)])
    results = results_from_dict(merge_memory_files("adding", [a, b]))
    assert [(r.cell, r.length) for r in results.rows] == [
        ("lstm", 200),
        ("simple", 500),
        ("lstm", 500),
        ("lstm", 500),
    ]
    assert results.rows[0].curve == [(100, 0.0015)]
    assert plot_memory_results(results, tmp_path / "adding.png").stat().st_size > 1000


def test_merge_refuses_another_task_and_rows_without_a_command(tmp_path):
    a = _run_file(tmp_path / "a.json", "rnnkit A", [_row("gru", 50, 0.2)], task="copy")
    with pytest.raises(ConfigError, match="expected 'adding'"):
        merge_memory_files("adding", [a])
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"task": "adding", "rows": [_row("gru", 50, 0.1)]}))
    with pytest.raises(ConfigError, match="gru T=50 names no command"):
        load_memory_rows(bare)
