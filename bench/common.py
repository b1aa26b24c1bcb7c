"""Shared benchmark helpers: alternate the contenders, take medians, write JSON.

This machine is shared and noisy, so a lone absolute time means little: every
benchmark runs its contenders in turn (A, B, C, A, B, C ...) and reports each
one's median and its ratio to the baseline measured in the same run.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import torch

from rnnkit.benchmarks.timing import alternate, alternate_all  # noqa: F401 (re-exported for the scripts)

RESULTS = Path(__file__).parent / "results"


def environment() -> dict[str, Any]:
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


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
