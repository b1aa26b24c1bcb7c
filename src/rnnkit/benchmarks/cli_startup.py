"""How long ``rnnkit --help`` and ``rnnkit <command> --help`` take (target: under 0.5 s).

Each command runs in a fresh process, alternating with a bare interpreter start
(``python -c pass``) measured side by side, so the table shows both the median wall time
and what rnnkit adds over starting Python on this (shared, noisy) machine. A probe run of
each command says which heavy libraries its help path imported (torch, numpy, pydantic,
rich): none of them is needed to print help.

Bytecode is cached (in a temporary ``PYTHONPYCACHEPREFIX``, warmed by one untimed run), as
for an installed rnnkit; ``--no-bytecode-cache`` measures with every module compiled from
source instead (``PYTHONDONTWRITEBYTECODE=1``, as in this project's shells).

    python bench/cli_startup.py [--repeats 9] [--no-bytecode-cache] [--output cli-startup.json]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

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
HEAVY = ("torch", "numpy", "pydantic", "rich")
BASELINE = [sys.executable, "-c", "pass"]
# Runs the CLI in-process, then names on stderr the heavy libraries that got imported.
PROBE = f"""
import runpy, sys
sys.argv = ["rnnkit", *sys.argv[1:]]
try:
    runpy.run_module("rnnkit.cli.main", run_name="__main__")
except SystemExit:
    pass
print("IMPORTED:" + ",".join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)
"""


def wall(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - t0


def heavy_imports(command: list[str], env: dict[str, str]) -> list[str]:
    probe = subprocess.run([sys.executable, "-c", PROBE, *command], capture_output=True, text=True, env=env)
    last = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else ""
    return [m for m in last.removeprefix("IMPORTED:").split(",") if m]


def measure(command: list[str], repeats: int, env: dict[str, str]) -> dict[str, Any]:
    argv = [sys.executable, "-m", "rnnkit.cli.main", *command]
    wall(argv, env)  # untimed: fills the bytecode cache
    times, base = [], []
    for _ in range(repeats):  # A, B, A, B ...: both see the same machine load
        times.append(wall(argv, env))
        base.append(wall(BASELINE, env))
    imported = heavy_imports(command, env)
    return {
        "command": "rnnkit " + " ".join(command),
        "median_s": round(statistics.median(times), 3),
        "python_start_median_s": round(statistics.median(base), 3),
        "added_s": round(statistics.median(times) - statistics.median(base), 3),
        "imports_torch": "torch" in imported,
        "heavy_imports": imported,
        "under_0.5_s": statistics.median(times) < 0.5,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument(
        "--no-bytecode-cache", action="store_true", help="compile every module from source in every run"
    )
    parser.add_argument("--output", default="cli-startup.json", help="file name under bench/results/")
    args = parser.parse_args()
    from rnnkit.benchmarks.common import write_json  # imports torch: not before it is needed

    with tempfile.TemporaryDirectory(prefix="rnnkit-pycache-") as cache:
        env = {**os.environ}
        if args.no_bytecode_cache:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env.pop("PYTHONPYCACHEPREFIX", None)
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = cache  # the checkout's folders stay as they are
        rows = [measure(command, args.repeats, env) for command in COMMANDS]
    header = f"{'command':32} {'median s':>9} {'python s':>9} {'added s':>8} {'<0.5 s':>7}  heavy imports"
    print(header)
    for r in rows:
        print(
            f"{r['command']:32} {r['median_s']:9.3f} {r['python_start_median_s']:9.3f} {r['added_s']:8.3f} "
            f"{r['under_0.5_s']!s:>7}  {','.join(r['heavy_imports']) or '-'}"
        )
    payload = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "repeats": args.repeats,
        "note": "wall time of a fresh process per run, alternating with `python -c pass`; medians",
        "bytecode": "compiled every run" if args.no_bytecode_cache else "cached (one warm-up run)",
        "load_average_1_5_15_min": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    path = write_json(args.output, payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
