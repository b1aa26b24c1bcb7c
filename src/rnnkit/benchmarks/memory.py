"""Long-memory benchmark results: merge the runs of ``rnnkit bench memory`` into one table and plot.

The runs are CLI commands (one per process, so the long T = 500 runs can go in
parallel with the short ones on a shared machine); each writes a JSON fragment
that names its own command and configuration. This script merges fragments
into ``bench/results/memory-<task>.json`` -- every row keeps the command and the
configuration that produced it -- prints the table and draws the plot::

    .venv/bin/python bench/memory.py --task adding --out bench/results/memory-adding.json \\
        --plot bench/results/memory-adding.png run1.json run2.json ...

The commands used for the committed results are listed in docs/vanishing-gradients.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnnkit.benchmarks.common import environment, table
from rnnkit.tasks.memory import TASK_SPECS, MemoryResults, MemoryRow
from rnnkit.tasks.memory_results import plot_memory_results
from rnnkit.utils.io import atomic_write_json

ROW_FIELDS = ("cell", "length", "final_loss", "baseline", "steps", "seconds", "curve")


def merge(task: str, fragments: list[Path]) -> tuple[MemoryResults, list[dict]]:
    """Rows of every fragment (a later fragment replaces an earlier row for the same cell and T)."""
    rows: dict[tuple[str, int], tuple[MemoryRow, dict]] = {}
    for path in fragments:
        data = json.loads(path.read_text())
        if data["task"] != task:
            raise SystemExit(f"{path}: task={data['task']!r}, expected {task!r}")
        for r in data["rows"]:
            row = MemoryRow(**{k: r[k] for k in ROW_FIELDS})
            meta = {"command": data["command"], "config": data["config"]}
            rows[(row.cell, row.length)] = (row, meta)
    order = {"simple": 0, "lstm": 1, "gru": 2}
    keys = sorted(rows, key=lambda k: (k[1], order.get(k[0], 9)))
    results = MemoryResults(task, TASK_SPECS[task].metric, {"merged_from": [str(p) for p in fragments]})
    results.rows = [rows[k][0] for k in keys]
    return results, [rows[k][1] for k in keys]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TASK_SPECS), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("fragments", type=Path, nargs="+")
    args = parser.parse_args()
    results, metas = merge(args.task, args.fragments)
    rows = [
        {**row.__dict__, "ratio_to_baseline": row.ratio_to_baseline, **meta}
        for row, meta in zip(results.rows, metas, strict=True)
    ]
    payload = {
        "task": args.task,
        "metric": results.metric,
        "merge_command": "python " + " ".join(sys.argv),
        "environment": environment(),
        "rows": rows,
    }
    atomic_write_json(args.out, payload, indent=1)
    cols = [
        "cell",
        "T",
        results.metric,
        "baseline",
        "loss/baseline",
        "steps",
        "seconds",
        "units",
        "batch",
        "lr",
    ]
    print(table([_round(r) for r in _printables(results, metas)], cols))
    if args.plot:
        print(f"wrote {plot_memory_results(results, args.plot)}")
    print(f"wrote {args.out}")


def _printables(results: MemoryResults, metas: list[dict]) -> list[dict]:
    out = []
    for printable, meta in zip(results.table(), metas, strict=True):
        cfg = meta["config"]
        out.append(
            {**printable, "units": cfg["units"], "batch": cfg["batch_size"], "lr": cfg["learning_rate"]}
        )
    return out


def _round(row: dict) -> dict:
    return {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items()}


if __name__ == "__main__":
    main()
