"""How long ``rnnkit --help`` and ``rnnkit <command> --help`` take (target: under 0.5 s).

Each command runs in a fresh process, alternating with a bare interpreter start
(``python -c pass``) measured side by side, so the table shows both the median wall time
and what rnnkit adds over starting Python on this (shared, noisy) machine. A probe run of
each command says which heavy libraries its help path imported (torch, numpy, pydantic,
rich): none of them is needed to print help.

``--before SRC`` also times another checkout's ``src/`` folder (``git archive COMMIT src``
unpacked somewhere) in the same alternation (this tree, that one, bare Python, ...), so a
before/after comparison sees one machine load, not two.

Bytecode is cached (in a temporary ``PYTHONPYCACHEPREFIX``, warmed by one untimed run), as
for an installed rnnkit; ``--no-bytecode-cache`` measures with every module compiled from
source instead (``PYTHONDONTWRITEBYTECODE=1``, as in this project's shells).

    python bench/cli_startup.py [--repeats 9] [--before SRC] [--no-bytecode-cache] [--output FILE]
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


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds user + system) of one fresh process."""
    t0 = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0  # reaped by wait4: Popen must not wait for it again
    return time.perf_counter() - t0, usage.ru_utime + usage.ru_stime


def heavy_imports(command: list[str], env: dict[str, str]) -> list[str]:
    probe = subprocess.run([sys.executable, "-c", PROBE, *command], capture_output=True, text=True, env=env)
    last = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else ""
    return [m for m in last.removeprefix("IMPORTED:").split(",") if m]


def measure(
    command: list[str], repeats: int, env: dict[str, str], before: dict[str, str] | None
) -> dict[str, Any]:
    argv = [sys.executable, "-m", "rnnkit.cli.main", *command]
    for e in (env, before) if before else (env,):
        run_once(argv, e)  # untimed: fills the bytecode cache
    now, base, old = [], [], []
    for _ in range(repeats):  # A, (B,) C, A, (B,) C ...: all see the same machine load
        now.append(run_once(argv, env))
        if before:
            old.append(run_once(argv, before))
        base.append(run_once(BASELINE, env))
    times, cpu = [w for w, _ in now], [c for _, c in now]
    base_wall, base_cpu = [w for w, _ in base], [c for _, c in base]
    imported = heavy_imports(command, env)
    row = {
        "command": "rnnkit " + " ".join(command),
        "median_s": round(statistics.median(times), 3),
        "python_start_median_s": round(statistics.median(base_wall), 3),
        "added_s": round(statistics.median(times) - statistics.median(base_wall), 3),
        "cpu_median_s": round(statistics.median(cpu), 3),
        "python_start_cpu_median_s": round(statistics.median(base_cpu), 3),
        "imports_torch": "torch" in imported,
        "heavy_imports": imported,
        "under_0.5_s": statistics.median(times) < 0.5,
    }
    if before:
        row["before_median_s"] = round(statistics.median(w for w, _ in old), 3)
        row["before_cpu_median_s"] = round(statistics.median(c for _, c in old), 3)
        row["before_heavy_imports"] = heavy_imports(command, before)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument(
        "--no-bytecode-cache", action="store_true", help="compile every module from source in every run"
    )
    parser.add_argument("--before", default="", help="another checkout's src/ folder, timed alongside")
    parser.add_argument("--output", default="cli-startup.json", help="file name under bench/results/")
    parser.add_argument("--label", default="", help="what was measured (e.g. the commit), kept in the JSON")
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
        before = {**env, "PYTHONPATH": os.path.abspath(args.before)} if args.before else None
        rows = [measure(command, args.repeats, env, before) for command in COMMANDS]
    header = (
        f"{'command':32} {'wall s':>7} {'before':>7} {'python':>7} {'cpu s':>6} {'before':>7} {'python':>7}"
        f" {'<0.5 s':>7}  heavy imports"
    )
    print(header)
    nan = float("nan")
    for r in rows:
        heavy = ",".join(r["heavy_imports"]) or "-"
        if "before_heavy_imports" in r:
            heavy += f" (before: {','.join(r['before_heavy_imports']) or '-'})"
        print(
            f"{r['command']:32} {r['median_s']:7.3f} {r.get('before_median_s', nan):7.3f} "
            f"{r['python_start_median_s']:7.3f} {r['cpu_median_s']:6.3f} "
            f"{r.get('before_cpu_median_s', nan):7.3f} {r['python_start_cpu_median_s']:7.3f} "
            f"{r['under_0.5_s']!s:>7}  {heavy}"
        )
    payload = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "label": args.label,
        "before": args.before or None,
        "repeats": args.repeats,
        "note": (
            "wall and CPU (user + system) time of a fresh process per run, alternating with `python -c pass`"
            " (and the --before tree); medians. On a loaded machine wall time is mostly waiting for a core;"
            " CPU time is what an idle machine would take"
        ),
        "bytecode": "compiled every run" if args.no_bytecode_cache else "cached (one warm-up run)",
        "load_average_1_5_15_min": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    path = write_json(args.output, payload)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
