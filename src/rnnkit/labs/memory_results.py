"""Long-memory results files: merging runs from several invocations, and the loss-vs-T plot.

Each row of a results file keeps the command and config that produced it, so a merged
file (``bench/results/memory-*.json``) stays reproducible run by run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnkit.errors import ConfigError
from rnnkit.labs.memory import CELLS, TASK_SPECS, MemoryResults, MemoryRow, check_task
from rnnkit.models.plotting import new_figure, save_png

# ------------------------------------------------------------ merged results
ROW_FIELDS = ("cell", "length", "final_loss", "baseline", "steps", "seconds", "curve")
_CELL_ORDER = {name: i for i, name in enumerate(CELLS)}


def load_memory_rows(path: str | Path) -> tuple[str, list[dict[str, Any]]]:
    """The task and rows of a results file, each row with the ``command`` and ``config`` that made it.

    Reads both layouts: the JSON of one ``rnnkit bench memory`` run (``command`` and
    ``config`` at the top) and a merged file (``command`` and ``config`` in every row).
    """
    data = json.loads(Path(path).read_text())
    rows = []
    for r in data["rows"]:
        command, config = r.get("command", data.get("command")), r.get("config", data.get("config"))
        if command is None or config is None:
            raise ConfigError(
                f"{path}: a row of {r.get('cell')} T={r.get('length')} names no command or config"
            )
        rows.append({**{k: r[k] for k in ROW_FIELDS}, "command": command, "config": config})
    return check_task(data["task"]), rows


def merge_memory_files(task: str, paths: Sequence[str | Path]) -> dict[str, Any]:
    """Every row of every file, ordered by T then cell; a row met twice (same cell, T, command) is kept once.

    Unlike ``bench/memory.py``, two runs of one (cell, T) with different commands are
    both kept (e.g. a failed cheap run and a solved longer one): each row carries its
    own command and configuration. ``results_from_dict`` turns the result into
    :class:`MemoryResults` for :func:`plot_memory_results`.
    """
    task = check_task(task)
    seen: dict[tuple[str, int, str], dict[str, Any]] = {}
    for path in paths:
        file_task, rows = load_memory_rows(path)
        if file_task != task:
            raise ConfigError(f"{path}: task={file_task!r}, expected {task!r}")
        for r in rows:
            seen.setdefault((r["cell"], r["length"], r["command"]), r)
    rows = sorted(seen.values(), key=lambda r: (r["length"], _CELL_ORDER.get(r["cell"], len(CELLS))))
    rows = [{**r, "ratio_to_baseline": r["final_loss"] / r["baseline"]} for r in rows]
    return {
        "task": task,
        "metric": TASK_SPECS[task].metric,
        "merged_from": [str(p) for p in paths],
        "rows": rows,
    }


def results_from_dict(data: dict[str, Any]) -> MemoryResults:
    """:class:`MemoryResults` from a results JSON (one run or merged); the inverse of ``to_dict``."""
    task = check_task(data["task"])
    rows = [MemoryRow(**{k: r[k] for k in ROW_FIELDS}) for r in data["rows"]]
    for row in rows:
        row.curve = [(int(s), float(v)) for s, v in row.curve]
    return MemoryResults(task, TASK_SPECS[task].metric, data.get("config", {}), rows)


# ------------------------------------------------------------------- plotting
def plot_memory_results(results: MemoryResults, path: str | Path) -> Path:
    """Final loss against T per cell (log y), with the memoryless baseline dashed.

    Where a cell has several runs at one T (merged results), the line goes through
    the lowest final loss and the other runs are drawn as hollow markers.
    """
    fig = new_figure(6.4, 4.2, dpi=120)
    ax = fig.subplots()
    lengths = sorted({r.length for r in results.rows})
    spec = TASK_SPECS[results.task]
    ax.plot(lengths, [spec.baseline(t) for t in lengths], "k--", label="baseline (no memory)")
    for name in dict.fromkeys(r.cell for r in results.rows):
        runs = [r for r in results.rows if r.cell == name]
        best = {}
        for r in runs:
            if r.length not in best or r.final_loss < best[r.length].final_loss:
                best[r.length] = r
        ts = sorted(best)
        (line,) = ax.plot(ts, [max(best[t].final_loss, 1e-6) for t in ts], "o-", label=name)
        others = [r for r in runs if r is not best[r.length]]
        if others:
            ax.plot([r.length for r in others], [max(r.final_loss, 1e-6) for r in others], "o",
                    mfc="none", color=line.get_color(), label=f"{name} (other runs)")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("T (sequence length)")
    ax.set_ylabel("final held-out " + ("MSE" if spec.metric == "mse" else "cross-entropy"))
    steps = max(r.steps for r in results.rows)
    ax.set_title(f"{results.task}: held-out loss after <= {steps} training steps")
    ax.legend(fontsize="small")
    return save_png(fig, path)
