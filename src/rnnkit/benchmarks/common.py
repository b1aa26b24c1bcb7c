"""Shared benchmark helpers: alternate the contenders, take medians, print tables, write JSON.

This machine is shared and noisy, so a lone absolute time means little: every
benchmark runs its contenders in turn (A, B, C, A, B, C ...) and reports each
one's median and its ratio to the baseline measured in the same run.

Results go to the checkout's ``bench/results/`` (``$RNNKIT_BENCH_RESULTS`` elsewhere),
each file written atomically.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import torch

from rnnkit.benchmarks.timing import alternate, alternate_all  # noqa: F401 (re-exported for the scripts)
from rnnkit.utils.io import atomic_write_json


def results_dir() -> Path:
    """``$RNNKIT_BENCH_RESULTS``, else ``bench/results`` of the checkout this package runs from
    (an editable install: src/rnnkit/benchmarks -> the repository), else of the working folder."""
    if os.environ.get("RNNKIT_BENCH_RESULTS"):
        return Path(os.environ["RNNKIT_BENCH_RESULTS"])
    checkout = Path(__file__).resolve().parents[3] / "bench"
    return (checkout if checkout.is_dir() else Path.cwd() / "bench") / "results"


RESULTS = results_dir()
ROOT = RESULTS.parent.parent  # the checkout (configs/, bench/)


def environment() -> dict[str, Any]:
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def write_json(name: str, payload: dict[str, Any]) -> Path:
    return atomic_write_json(RESULTS / name, payload)


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in rows:
        out.append("  ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(columns, widths, strict=True)))
    return "\n".join(out)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return "" if v is None else str(v)
