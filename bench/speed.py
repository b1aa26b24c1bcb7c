"""The speed suite (issue 8): rnnkit vs torch.nn (and Keras), at 1 and 2 threads.

    .venv/bin/python bench/speed.py                    # everything (~15-30 min on 2 cores)
    .venv/bin/python bench/speed.py --quick            # small size, uni 1-layer, 2 threads

Prints a table per group and writes bench/results/speed-cpu.json (speed-gpu.json on CUDA).
Each row's ratio is measured in alternation within the row; see rnnkit/benchmarks/speed.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from bench.common import RESULTS, environment, table, write_json
from rnnkit.benchmarks import speed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--sizes", default="small,large")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--keras-reps", type=int, default=2, help="0 to skip Keras")
    ap.add_argument("--groups", default="fused,features,decode,scan")
    ap.add_argument("--scan-lengths", default="256,1024,4096")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep the result file's other thread counts and groups (each row keeps its command)",
    )
    args = ap.parse_args()
    if args.quick:
        args.threads, args.sizes, args.reps, args.keras_reps = "2", "small", 3, 0
        args.scan_lengths = "256,1024"

    def show(row: dict) -> None:
        print(
            "  " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
            flush=True,
        )

    suite = speed.run_suite(
        threads=[int(t) for t in args.threads.split(",")],
        sizes=args.sizes.split(","),
        groups=args.groups.split(","),
        reps=args.reps,
        keras_reps=args.keras_reps,
        scan_lengths=[int(t) for t in args.scan_lengths.split(",")],
        quick=args.quick,
        on_row=show,
    )
    name = "speed-gpu.json" if torch.cuda.is_available() else "speed-cpu.json"
    cmd = "python bench/speed.py " + " ".join(sys.argv[1:])
    results = {"command": cmd, "environment": environment(), **suite}
    if args.merge and (RESULTS / name).exists():
        # One thread count per invocation, each part keeping the command and load it ran under.
        old = json.loads((RESULTS / name).read_text())
        parts = dict(old.get("threads", {}))
        for n, part in suite["threads"].items():
            for row in part["rows"]:
                row["command"] = cmd
            # Rows of the (group, size) pairs measured now replace the old ones; the rest stay.
            measured = {(r["group"], r.get("size")) for r in part["rows"]}
            old_rows = parts.get(n, {}).get("rows", [])
            kept = [r for r in old_rows if (r["group"], r.get("size")) not in measured]
            parts[n] = {**part, "rows": kept + part["rows"]}
        results = {**results, "command": [*_as_list(old.get("command")), cmd], "threads": parts}
    for n, part in suite["threads"].items():
        print(f"\n=== {n} thread(s): GEMM ceiling {part['gemm_gflops']:.1f} GFLOP/s")
        for group in dict.fromkeys(r["group"] for r in part["rows"]):
            rows = [r for r in part["rows"] if r["group"] == group]
            print(table(rows, list(dict.fromkeys(k for r in rows for k in r))))  # every row's columns
    print(f"\nwrote {write_json(name, results)}")


def _as_list(v: object) -> list:
    return [] if v is None else (v if isinstance(v, list) else [v])


if __name__ == "__main__":
    main()
