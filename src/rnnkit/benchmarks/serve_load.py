"""Load test of ``rnnkit serve``: keyboard suggestions at a fixed concurrency, over loopback only.

Starts the real command (``python -m rnnkit.cli.main serve``) on 127.0.0.1, then N
simulated users type a sentence one keystroke at a time, each keystroke a POST
/api/suggest carrying the user's session (one recurrent step per finished word),
for a bounded time. Reports requests/s, p50/p90/p99 latency and the error count
(any non-200 or failed request), and writes bench/results/serve-load.json.

    .venv/bin/python bench/serve_load.py                      # a PTB-sized word LM, trained briefly
    .venv/bin/python bench/serve_load.py --lm runs/ptb --concurrency 8 --seconds 30

Client and server share this machine's cores (2 here, busy with other jobs): the
figures are a floor for this machine, not a property of the server alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rnnkit.benchmarks.common import environment, write_json

HOST = "127.0.0.1"  # loopback only, always
TYPED = "the company said it expects to report a loss for the third quarter because of lower sales "


def command() -> str:
    return ".venv/bin/python bench/serve_load.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def train_quick_lm(out: Path) -> str:
    """A PTB word LM of realistic size (10k words, 2 x 256 LSTM), trained for a few steps only:
    serving cost depends on the sizes, not on how well it predicts."""
    from rnnkit.tasks.language_model import LMConfig, train_lm

    cfg = LMConfig(
        data="ptb", level="word", embed_dim=256, units=256, num_layers=2, epochs=1, max_steps=5, threads=1
    )
    metrics = train_lm(cfg, out)
    return f"PTB word LM, vocabulary {metrics['vocab_size']}, 2 x 256 LSTM, 5 training steps"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


async def wait_ready(client: Any, base: str, proc: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before it was ready")
        try:
            if (await client.get(f"{base}/health")).status_code == 200:
                return
        except Exception:  # not listening yet
            pass
        await asyncio.sleep(0.25)
    raise RuntimeError(f"the server was not ready within {timeout:.0f} s")


async def user(client: Any, base: str, stop_at: float, record: bool, out: dict[str, Any]) -> None:
    """Type TYPED keystroke by keystroke, again and again (a new session each time), until ``stop_at``."""
    while time.monotonic() < stop_at:
        session = None
        for i in range(1, len(TYPED) + 1):
            if time.monotonic() >= stop_at:
                return
            t0 = time.perf_counter()
            try:
                res = await client.post(
                    f"{base}/api/suggest", json={"text": TYPED[:i], "session": session, "top_k": 3}
                )
                ok = res.status_code == 200
                body = res.json() if ok else None
            except Exception as exc:  # a refused or dropped connection is an error, not a crash
                ok, body = False, None
                out["error_kinds"][type(exc).__name__] = out["error_kinds"].get(type(exc).__name__, 0) + 1
            dt = time.perf_counter() - t0
            if not record:
                continue
            if ok and body is not None:
                out["latencies"].append(dt)
                out["steps"].append(body["steps"])
                session = body["session"]
            else:
                out["errors"] += 1


async def run_load(
    base: str, proc: subprocess.Popen[bytes], concurrency: int, seconds: float
) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # trust_env=False: no proxy from the environment, the requests go straight to loopback.
    async with httpx.AsyncClient(timeout=30.0, limits=limits, trust_env=False) as client:
        await wait_ready(client, base, proc)
        warm: dict[str, Any] = {"latencies": [], "steps": [], "errors": 0, "error_kinds": {}}
        await asyncio.gather(
            *(user(client, base, time.monotonic() + 2.0, False, warm) for _ in range(concurrency))
        )
        out: dict[str, Any] = {"latencies": [], "steps": [], "errors": 0, "error_kinds": {}}
        t0 = time.monotonic()
        await asyncio.gather(*(user(client, base, t0 + seconds, True, out) for _ in range(concurrency)))
        out["elapsed"] = time.monotonic() - t0
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lm", type=Path, help="A trained LM run directory (default: train a quick one).")
    parser.add_argument("--concurrency", type=int, default=8, help="Simulated users typing at once.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Measured duration (after 2 s warm-up).")
    parser.add_argument("--server-threads", type=int, default=1, help="Torch threads in the server.")
    parser.add_argument("--result", default="serve-load.json", help="File name under bench/results/.")
    args = parser.parse_args()
    if args.concurrency < 1 or not 0 < args.seconds <= 600:
        parser.error("--concurrency must be >= 1 and --seconds in (0, 600]")

    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        lm = args.lm
        model = f"run {lm}"
        if lm is None:
            lm = Path(tmp) / "lm"
            model = train_quick_lm(lm)
        port = free_port()
        base = f"http://{HOST}:{port}"
        cmd = [sys.executable, "-m", "rnnkit.cli.main", "serve", str(lm), "--host", HOST, "--port", str(port)]
        cmd += ["--threads", str(args.server_threads), "--log-level", "warning"]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.server_threads)}
        load_before = os.getloadavg()
        proc = subprocess.Popen(cmd, env=env)
        try:
            out = asyncio.run(run_load(base, proc, args.concurrency, args.seconds))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    lat = [t * 1000 for t in out["latencies"]]
    n = len(lat) + out["errors"]
    result = {
        "command": command(),
        "environment": environment(),
        "cpus": os.cpu_count(),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "model": model,
        "server": f"rnnkit serve on {HOST}, torch threads {args.server_threads}, one uvicorn worker",
        "typed": TYPED,
        "concurrency": args.concurrency,
        "seconds": round(out["elapsed"], 2),
        "requests": n,
        "requests_per_s": round(n / out["elapsed"], 1),
        "latency_ms": {
            "p50": round(percentile(lat, 50), 2) if lat else None,
            "p90": round(percentile(lat, 90), 2) if lat else None,
            "p99": round(percentile(lat, 99), 2) if lat else None,
            "max": round(max(lat), 2) if lat else None,
            "mean": round(statistics.fmean(lat), 2) if lat else None,
        },
        "errors": out["errors"],
        "error_kinds": out["error_kinds"],
        "keystrokes_that_stepped": round(
            sum(1 for s in out["steps"] if s > 0) / max(len(out["steps"]), 1), 3
        ),
        "max_steps_per_keystroke": max(out["steps"], default=0),
    }
    path = write_json(args.result, result)
    lat_ms = result["latency_ms"]
    print(
        f"{n} requests in {result['seconds']} s at concurrency {args.concurrency}: "
        f"{result['requests_per_s']} req/s, p50 {lat_ms['p50']} ms, p99 {lat_ms['p99']} ms, "
        f"errors {out['errors']} -> {path}"
    )
    return 0 if out["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
