"""How long ``rnnkit --help`` and ``rnnkit <command> --help`` take (target: under 0.5 s).

Each command runs in a fresh process, alternating with a bare interpreter start
(``python -c pass``) measured side by side, so the table shows both the median wall time
and what rnnkit adds over starting Python on this (shared, noisy) machine. Also checks that
no help path imports torch.

    python bench/cli_startup.py [--repeats 9]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
COMMANDS = [
    ["--help"],
    ["train", "--help"],
    ["train", "sentiment", "--help"],
    ["train", "lm", "--help"],
    ["train", "forecast", "--help"],
    ["predict", "--help"],
    ["generate", "--help"],
    ["forecast", "--help"],
    ["evaluate", "--help"],
    ["serve", "--help"],
    ["datasets", "--help"],
]
BASELINE = [sys.executable, "-c", "pass"]
# Runs the CLI in-process, then says on stderr whether torch got imported.
PROBE = """
import runpy, sys
sys.argv = ["rnnkit", *sys.argv[1:]]
try:
    runpy.run_module("rnnkit.cli.main", run_name="__main__")
except SystemExit:
    pass
print("TORCH" if "torch" in sys.modules else "NO-TORCH", file=sys.stderr)
"""


def wall(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    rows = []
    for command in COMMANDS:
        argv = [sys.executable, "-m", "rnnkit.cli.main", *command]
        times, base = [], []
        for _ in range(args.repeats):  # A, B, A, B ...: both see the same machine load
            times.append(wall(argv))
            base.append(wall(BASELINE))
        probe = subprocess.run([sys.executable, "-c", PROBE, *command], capture_output=True, text=True)
        rows.append(
            {
                "command": "rnnkit " + " ".join(command),
                "median_s": round(statistics.median(times), 3),
                "python_start_median_s": round(statistics.median(base), 3),
                "added_s": round(statistics.median(times) - statistics.median(base), 3),
                "imports_torch": probe.stderr.strip().splitlines()[-1] == "TORCH",
                "under_0.5_s": statistics.median(times) < 0.5,
            }
        )
    header = f"{'command':32} {'median s':>9} {'python s':>9} {'added s':>8} {'torch':>6} {'<0.5 s':>7}"
    print(header)
    for r in rows:
        print(
            f"{r['command']:32} {r['median_s']:9.3f} {r['python_start_median_s']:9.3f} {r['added_s']:8.3f} "
            f"{r['imports_torch']!s:>6} {r['under_0.5_s']!s:>7}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "repeats": args.repeats,
        "note": "wall time of a fresh process per run, alternating with `python -c pass`; medians",
        "load_average_1_5_15_min": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    (RESULTS / "cli-startup.json").write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
