"""Load test of ``rnnkit serve``: keyboard suggestions at a fixed concurrency, over loopback only.

Starts the real command (``python -m rnnkit.cli.main serve``) on 127.0.0.1, then N
simulated users type a sentence one keystroke at a time, each keystroke a POST
/api/suggest carrying the user's session (one recurrent step per finished word),
for a bounded time. Reports requests/s, p50/p90/p99 latency and the error count
(any non-200 or failed request), and writes bench/results/serve-load.json.

With ``--slow-clients S --partial-clients P`` the run alternates two phases, the users
alone (A) and the users beside S clients trickling one header line every 0.5 s and P
clients declaring a 100 kB body and sending 10 bytes (B), A B A B, each a quarter of
``--seconds``: the users' latency in B against A shows whether the others keep being
served, and the slow clients' record shows the server cutting them off (408) within its
``--header-timeout`` / ``--body-timeout``. Every client loop stops by itself at its phase's end.

    .venv/bin/python bench/serve_load.py                      # a PTB-sized word LM, trained briefly
    .venv/bin/python bench/serve_load.py --lm runs/ptb --concurrency 8 --seconds 30
    .venv/bin/python bench/serve_load.py --slow-clients 20 --partial-clients 10 --seconds 40

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


async def hostile(port: int, stop_at: float, partial: bool, out: dict[str, Any]) -> None:
    """A slow client (one header line every 0.5 s, never finishing) or, with ``partial``, one that
    declares a 100 kB body and sends 10 bytes; reconnects whenever cut off, until ``stop_at``."""
    while time.monotonic() < stop_at:
        t0 = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            out["refused"] += 1
            await asyncio.sleep(0.5)
            continue
        try:
            if partial:
                writer.write(
                    b"POST /api/suggest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100000\r\n\r\n" + b'{"text": "'
                )
            else:
                writer.write(b"POST /api/suggest HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            answer = b""
            while time.monotonic() < stop_at:
                try:  # wait for the server to answer and close, at most 0.5 s at a time
                    answer = await asyncio.wait_for(reader.read(4096), 0.5)
                    break
                except asyncio.TimeoutError:
                    if not partial:
                        writer.write(b"X-Slow: 1\r\n")
                        await writer.drain()
            if answer or reader.at_eof():
                status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "closed"
                out["cut_off"][status] = out["cut_off"].get(status, 0) + 1
                out["held_s"].append(time.monotonic() - t0)
        except OSError:
            out["cut_off"]["reset"] = out["cut_off"].get("reset", 0) + 1
            out["held_s"].append(time.monotonic() - t0)
        finally:
            writer.close()


def _phase_record() -> dict[str, Any]:
    return {"latencies": [], "steps": [], "errors": 0, "error_kinds": {}, "elapsed": 0.0}


async def run_load(
    base: str,
    proc: subprocess.Popen[bytes],
    concurrency: int,
    seconds: float,
    slow_clients: int = 0,
    partial_clients: int = 0,
) -> dict[str, Any]:
    """{"alone": users' record, "beside_hostile": users' record or None, "hostile": theirs}."""
    import httpx

    port = int(base.rsplit(":", 1)[1])
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # trust_env=False: no proxy from the environment, the requests go straight to loopback.
    async with httpx.AsyncClient(timeout=30.0, limits=limits, trust_env=False) as client:
        await wait_ready(client, base, proc)
        warm = _phase_record()
        await asyncio.gather(
            *(user(client, base, time.monotonic() + 2.0, False, warm) for _ in range(concurrency))
        )
        phases = {"alone": _phase_record(), "beside_hostile": _phase_record()}
        bad: dict[str, Any] = {"cut_off": {}, "held_s": [], "refused": 0}
        # A B A B when there are hostile clients (alternation: a slow spell of the machine hits both).
        order = ["alone", "beside_hostile"] * 2 if slow_clients + partial_clients else ["alone"]
        for phase in order:
            out = phases[phase]
            t0 = time.monotonic()
            stop_at = t0 + seconds / len(order)
            tasks = [user(client, base, stop_at, True, out) for _ in range(concurrency)]
            if phase == "beside_hostile":
                tasks += [hostile(port, stop_at, False, bad) for _ in range(slow_clients)]
                tasks += [hostile(port, stop_at, True, bad) for _ in range(partial_clients)]
            await asyncio.gather(*tasks)
            out["elapsed"] += time.monotonic() - t0
    return {
        "alone": phases["alone"],
        "beside_hostile": phases["beside_hostile"] if len(order) > 1 else None,
        "hostile": bad,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lm", type=Path, help="A trained LM run directory (default: train a quick one).")
    parser.add_argument("--concurrency", type=int, default=8, help="Simulated users typing at once.")
    parser.add_argument("--seconds", type=float, default=20.0, help="Measured duration (after 2 s warm-up).")
    parser.add_argument("--server-threads", type=int, default=1, help="Torch threads in the server.")
    parser.add_argument("--slow-clients", type=int, default=0, help="Clients trickling headers (phase B).")
    parser.add_argument("--partial-clients", type=int, default=0, help="Clients sending a partial body (B).")
    parser.add_argument("--header-timeout", type=float, default=2.0, help="The server's --header-timeout.")
    parser.add_argument("--body-timeout", type=float, default=5.0, help="The server's --body-timeout.")
    parser.add_argument("--result", default="serve-load.json", help="File name under bench/results/.")
    args = parser.parse_args()
    if args.concurrency < 1 or not 0 < args.seconds <= 600:
        parser.error("--concurrency must be >= 1 and --seconds in (0, 600]")
    if args.slow_clients < 0 or args.partial_clients < 0:
        parser.error("--slow-clients and --partial-clients must be >= 0")

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
        cmd += ["--header-timeout", str(args.header_timeout), "--body-timeout", str(args.body_timeout)]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.server_threads)}
        load_before = os.getloadavg()
        proc = subprocess.Popen(cmd, env=env)
        try:
            out = asyncio.run(
                run_load(base, proc, args.concurrency, args.seconds, args.slow_clients, args.partial_clients)
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    alone = summary(out["alone"])
    result = {
        "command": command(),
        "environment": environment(),
        "cpus": os.cpu_count(),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "model": model,
        "server": f"rnnkit serve on {HOST}, torch threads {args.server_threads}, one uvicorn worker, "
        f"header timeout {args.header_timeout:g} s, body timeout {args.body_timeout:g} s",
        "typed": TYPED,
        "concurrency": args.concurrency,
        **alone,  # the users alone (the whole run without hostile clients)
    }
    errors = alone["errors"]
    print(
        f"users alone: {alone['requests']} requests in {alone['seconds']} s at concurrency "
        f"{args.concurrency}: {alone['requests_per_s']} req/s, p50 {alone['latency_ms']['p50']} ms, "
        f"p99 {alone['latency_ms']['p99']} ms, errors {alone['errors']}"
    )
    if out["beside_hostile"] is not None:
        beside = summary(out["beside_hostile"])
        held = out["hostile"]["held_s"]
        result["beside_hostile"] = {
            "slow_clients": args.slow_clients,
            "partial_clients": args.partial_clients,
            **beside,
            "p50_ratio_to_alone": _ratio(beside["latency_ms"]["p50"], alone["latency_ms"]["p50"]),
            "p99_ratio_to_alone": _ratio(beside["latency_ms"]["p99"], alone["latency_ms"]["p99"]),
            "hostile_cut_off": out["hostile"]["cut_off"],
            "hostile_refused_connections": out["hostile"]["refused"],
            "hostile_held_s": {
                "median": round(statistics.median(held), 2) if held else None,
                "max": round(max(held), 2) if held else None,
            },
        }
        errors += beside["errors"]
        b = result["beside_hostile"]
        print(
            f"users beside {args.slow_clients} slow + {args.partial_clients} partial clients: "
            f"{beside['requests_per_s']} req/s, p50 {beside['latency_ms']['p50']} ms "
            f"({b['p50_ratio_to_alone']}x alone), p99 {beside['latency_ms']['p99']} ms "
            f"({b['p99_ratio_to_alone']}x), errors {beside['errors']}; hostile clients cut off "
            f"{sum(b['hostile_cut_off'].values())} times ({b['hostile_cut_off']}), held at most "
            f"{b['hostile_held_s']['max']} s"
        )
    print(f"wrote {write_json(args.result, result)}")
    return 0 if errors == 0 else 1


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def summary(out: dict[str, Any]) -> dict[str, Any]:
    """Requests, rate, latency percentiles and errors of one phase's record."""
    lat = [t * 1000 for t in out["latencies"]]
    n = len(lat) + out["errors"]
    elapsed = max(out["elapsed"], 1e-9)
    return {
        "seconds": round(out["elapsed"], 2),
        "requests": n,
        "requests_per_s": round(n / elapsed, 1),
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


if __name__ == "__main__":
    sys.exit(main())
