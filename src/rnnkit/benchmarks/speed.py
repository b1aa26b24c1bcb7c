"""The speed suite: rnnkit's layers against torch.nn (and Keras 3 on its torch backend).

Every row times its contenders in alternation (A, B, C, A, B, C, ...) and reports
medians and ratios to torch.nn measured in the same run: this machine is shared
and noisy, so a lone absolute time means little. GFLOP/s are set against the
machine's GEMM ceiling, measured at the start of the run with the same thread count.

Rows:
- ``fused``: configurations PyTorch's fused kernels serve. LSTM runs the same oneDNN kernel as
  torch.nn (target rnnkit/torch <= 1.03); GRU and SimpleRNN run rnnkit's C++ loop (``fast:cpp``)
  against ATen's per-step loop (target <= 0.83 for training).
- ``features``: masks (random right padding, holes), recurrent dropout, layer norm --
  what those kernels refuse -- against torch.nn's time without the feature; target <= 1.3.
- ``decode``: batch-1 step-by-step decoding of a 2 x 512 LSTM LM with a 10k vocabulary:
  torch.nn.LSTM called per step vs rnnkit's cell step, against the floor
  max(weight bytes / memory bandwidth, FLOPs / GEMV rate).
- ``scan``: MinGRU/MinLSTM (parallel scan) vs GRU/LSTM training steps at growing T.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from rnnkit import layers
from rnnkit.benchmarks.common import RESULTS, environment, table, write_json
from rnnkit.benchmarks.timing import alternate
from rnnkit.errors import ConfigError, invalid
from rnnkit.kernels.step import linear_step, pack_cell, pack_linear, packed_step

SIZES = {"small": (32, 100, 128, 256), "large": (64, 200, 256, 512)}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
TORCH = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
OURS = {"lstm": layers.LSTM, "gru": layers.GRU, "rnn": layers.SimpleRNN}


def gemm_ceiling(n: int = 1024, reps: int = 7) -> float:
    """GFLOP/s of a square float32 GEMM at the current thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    t = alternate({"mm": lambda: torch.mm(a, b)}, reps)["mm"]
    return 2.0 * n**3 / t / 1e9


def memory_bandwidth(mb: int = 256, reps: int = 5) -> float:
    """GB/s of a large copy (read + write)."""
    a = torch.empty(mb * 2**20 // 4)
    b = torch.empty_like(a)
    t = alternate({"copy": lambda: b.copy_(a)}, reps)["copy"]
    return 2 * a.numel() * 4 / t / 1e9


def read_bandwidth(mb: int = 256, reps: int = 5) -> float:
    """GB/s of streaming a large tensor once, reading only (a sum): what a weight-bound step does."""
    a = torch.ones(mb * 2**20 // 4)
    t = alternate({"sum": lambda: a.sum()}, reps)["sum"]
    return a.numel() * 4 / t / 1e9


def rnn_flops(kind: str, B: int, T: int, D: int, H: int, train: bool, directions: int = 1) -> float:
    fwd = 2.0 * B * T * (D + H) * GATES[kind] * H * directions
    return fwd * (3.0 if train else 1.0)  # backward ~ 2x forward (input and weight gradients)


def _pair(kind: str, D: int, H: int, T: int, bidirectional: bool, num_layers: int, **ours_kwargs: Any):
    ref = TORCH[kind](D, H, num_layers=num_layers, batch_first=True, bidirectional=bidirectional)
    stack, dim = [], D
    for i in range(num_layers):
        layer = OURS[kind](H, return_sequences=True, **ours_kwargs)
        if bidirectional:
            layer = layers.Bidirectional(layer)
        layer.build((None, T, dim))
        subs = [layer.forward_layer, layer.backward_layer] if bidirectional else [layer]
        for rev, sub in enumerate(subs):
            layers.from_torch(sub, ref, layer_index=i, reverse=bool(rev))
        stack.append(layer)
        dim = H * (2 if bidirectional else 1)
    return ref, nn.Sequential(*stack)


def _step_fn(call: Callable[[], torch.Tensor], train: bool) -> Callable[[], None]:
    def run() -> None:
        if train:
            call().sum().backward()
        else:
            with torch.no_grad():
                call()

    return run


def fused_rows(sizes: list[str], reps: int, keras_reps: int, quick: bool) -> list[dict[str, Any]]:
    rows = []
    shapes = [(k, bi, nl) for k in ("lstm", "gru", "rnn") for bi in (False, True) for nl in (1, 2)]
    if quick:
        shapes = [(k, False, 1) for k in ("lstm", "gru", "rnn")]
    for size in sizes:
        B, T, D, H = SIZES[size]
        x = torch.randn(B, T, D)
        for kind, bi, nl in shapes:
            ref, ours = _pair(kind, D, H, T, bi, nl)
            for train in (True, False):
                fns = {
                    "torch.nn": _step_fn(lambda ref=ref, x=x: ref(x)[0], train),
                    "rnnkit": _step_fn(lambda o=ours, x=x: o(x), train),
                }
                med = alternate(fns, reps)
                row = {
                    "group": "fused",
                    "size": size,
                    "kind": kind,
                    "bidirectional": bi,
                    "layers": nl,
                    "mode": "train" if train else "infer",
                    "kernel": ours[0].forward_layer.last_kernel.name if bi else ours[0].last_kernel.name,
                    "torch_s": med["torch.nn"],
                    "rnnkit_s": med["rnnkit"],
                    "rnnkit/torch": med["rnnkit"] / med["torch.nn"],
                    "torch_gflops": rnn_flops(kind, B, T, D, H, train, 2 if bi else 1)
                    * nl
                    / med["torch.nn"]
                    / 1e9,
                }
                if keras_reps and nl == 1 and not bi:
                    row["keras/torch"] = _keras_ratio(kind, ours[0], ref, x, train, keras_reps)
                rows.append(row)
                yield row


def _keras_ratio(kind: str, ours: Any, ref: Any, x: torch.Tensor, train: bool, reps: int) -> float | None:
    try:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras
    except ImportError:
        return None
    k_cls = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}[kind]
    k = k_cls(ours.cell.units, return_sequences=True)
    k.build((None, x.shape[1], x.shape[2]))
    k.set_weights(layers.to_keras(ours))
    med = alternate(
        {"torch.nn": _step_fn(lambda: ref(x)[0], train), "keras": _step_fn(lambda: k(x), train)}, reps
    )
    return med["keras"] / med["torch.nn"]


def _first(out: Any) -> torch.Tensor:
    """The output sequence of a layer call that may also return states."""
    return out[0] if isinstance(out, tuple) else out


def feature_rows(sizes: list[str], reps: int) -> list[dict[str, Any]]:
    features = {
        "mask-right": ({}, "right"),
        # The same mask with the final states asked for: the LSTM then packs its input.
        "mask-right-packed": ({"return_state": True}, "right"),
        "mask-holes": ({}, "holes"),
        "recurrent_dropout": ({"recurrent_dropout": 0.2}, None),
        "layer_norm": ({"layer_norm": True}, None),
    }
    for size in sizes:
        B, T, D, H = SIZES[size]
        x = torch.randn(B, T, D)
        gen = torch.Generator().manual_seed(0)
        lengths = torch.randint(T // 2, T + 1, (B,), generator=gen)
        masks = {
            "right": torch.arange(T)[None] < lengths[:, None],
            "holes": torch.rand(B, T, generator=gen) > 0.1,
        }
        for kind in ("lstm", "gru"):
            for feature, (kwargs, mask_name) in features.items():
                ref, ours = _pair(kind, D, H, T, False, 1, **kwargs)
                mask = None if mask_name is None else masks[mask_name]
                layer = ours[0]
                fns = {
                    "torch.nn": _step_fn(lambda ref=ref, x=x: ref(x)[0], True),
                    "rnnkit": _step_fn(
                        lambda layer=layer, mask=mask, x=x: _first(layer(x, mask=mask, training=True)), True
                    ),
                }
                med = alternate(fns, reps)
                row = {
                    "group": "features",
                    "size": size,
                    "kind": kind,
                    "feature": feature,
                    "mode": "train",
                    "kernel": layer.last_kernel.name,
                    "torch_s": med["torch.nn"],
                    "rnnkit_s": med["rnnkit"],
                    "rnnkit/torch": med["rnnkit"] / med["torch.nn"],
                }
                yield row


def decode_rows(steps: int = 200, vocab: int = 10_000, units: int = 512) -> list[dict[str, Any]]:
    """Batch-1 decoding: per-step latency of a 2-layer LSTM + output layer, on this thread count."""
    emb = nn.Embedding(vocab, units)
    ref = nn.LSTM(units, units, num_layers=2, batch_first=True)
    head = nn.Linear(units, vocab)
    packed, packed8 = [], []
    for i in range(2):
        layer = layers.LSTM(units)
        layer.build((None, 1, units))
        layers.from_torch(layer, ref, layer_index=i)
        packed.append(pack_cell(layer.cell.params()))
        packed8.append(pack_cell(layer.cell.params(), int8=True))
    out = pack_linear(head.weight, head.bias)
    out8 = pack_linear(head.weight, head.bias, int8=True)
    tok = torch.tensor([[1]])

    def torch_steps() -> list[float]:
        hx = None
        lat = []
        with torch.no_grad():
            for _ in range(steps):
                t0 = time.perf_counter()
                out, hx = ref(emb(tok), hx)
                head(out[:, -1]).softmax(-1)
                lat.append(time.perf_counter() - t0)
        return lat

    def rnnkit_steps(cells: list[Any] = packed, head_packed: Any = out) -> list[float]:
        # What rnnkit.tasks.decoding.lm_step does: weights packed once, one product per layer.
        states = [(torch.zeros(1, units), torch.zeros(1, units)) for _ in cells]
        lat = []
        with torch.no_grad():
            for _ in range(steps):
                t0 = time.perf_counter()
                h = emb(tok)[:, 0]
                for i, pc in enumerate(cells):
                    states[i] = packed_step(h, states[i], pc)  # type: ignore[arg-type]
                    h = states[i][0]
                linear_step(h, head_packed).softmax(-1)
                lat.append(time.perf_counter() - t0)
        return lat

    torch_steps()
    rnnkit_steps()
    rnnkit_steps(packed8, out8)
    t_lat, r_lat, q_lat = torch_steps(), rnnkit_steps(), rnnkit_steps(packed8, out8)
    weight_bytes = 4 * (2 * 4 * units * 2 * units + vocab * units)
    flops = 2 * (2 * 4 * units * 2 * units + vocab * units)
    bw = memory_bandwidth()
    read_bw = read_bandwidth()
    x = torch.randn(1, 2 * units)
    w = torch.randn(4 * units, 2 * units)
    gemv = 2 * w.numel() / alternate({"mv": lambda: torch.mm(x, w.t())}, 50)["mv"] / 1e9
    floor = max(weight_bytes / (bw * 1e9), flops / (gemv * 1e9))
    # The weights are only read: the same floor at the read-only stream rate (lower than the
    # copy figure on this machine, whose read + write bytes both count).
    read_floor = max(weight_bytes / (read_bw * 1e9), flops / (gemv * 1e9))

    def pct(v: list[float], q: float) -> float:
        return sorted(v)[min(len(v) - 1, int(q * len(v)))]

    yield {
        "group": "decode",
        "model": f"2 x {units} LSTM + {vocab} softmax, batch 1",
        "torch_p50_ms": 1e3 * pct(t_lat, 0.5),
        "torch_p99_ms": 1e3 * pct(t_lat, 0.99),
        "rnnkit_p50_ms": 1e3 * pct(r_lat, 0.5),
        "rnnkit_p99_ms": 1e3 * pct(r_lat, 0.99),
        "floor_ms": 1e3 * floor,
        "rnnkit/floor": pct(r_lat, 0.5) / floor,
        "torch/rnnkit": pct(t_lat, 0.5) / pct(r_lat, 0.5),
        "read_floor_ms": 1e3 * read_floor,
        "rnnkit/read_floor": pct(r_lat, 0.5) / read_floor,
        # int8 weights (rnnkit.kernels.step): a quarter of the bytes, so a quarter of the floor.
        # Their 9.3 MB fit in this CPU's 32 MB L3, so the step may beat a DRAM-stream floor.
        "rnnkit_int8_p50_ms": 1e3 * pct(q_lat, 0.5),
        "rnnkit_int8_p99_ms": 1e3 * pct(q_lat, 0.99),
        "int8_floor_ms": 1e3 * floor / 4,
        "rnnkit_int8/read_floor": pct(q_lat, 0.5) / (read_floor / 4),
        "torch/rnnkit_int8": pct(t_lat, 0.5) / pct(q_lat, 0.5),
        "bandwidth_GBps": bw,
        "read_bandwidth_GBps": read_bw,
        "gemv_GFLOPs": gemv,
    }


def scan_rows(lengths: list[int], reps: int, B: int = 16, D: int = 64, H: int = 128) -> list[dict[str, Any]]:
    for T in lengths:
        x = torch.randn(B, T, D)
        for base, fast in (("gru", layers.MinGRU), ("lstm", layers.MinLSTM)):
            rnn = OURS[base](H, return_sequences=True)
            mini = fast(H, return_sequences=True)
            rnn.build(x.shape)
            mini.build(x.shape)
            med = alternate(
                {
                    "rnn": _step_fn(lambda r=rnn, x=x: r(x), True),
                    "min": _step_fn(lambda m=mini, x=x: m(x), True),
                },
                reps,
            )
            yield {
                "group": "scan",
                "T": T,
                "kind": base,
                "rnn_kernel": rnn.last_kernel.name,
                "rnn_s": med["rnn"],
                f"min{base}_s": med["min"],
                "speedup": med["rnn"] / med["min"],
            }


GROUPS = ("fused", "features", "decode", "scan")


def run_suite(
    *,
    threads: Sequence[int] = (1, 2),
    sizes: Sequence[str] = ("small", "large"),
    groups: Sequence[str] = GROUPS,
    reps: int = 5,
    keras_reps: int = 2,
    scan_lengths: Sequence[int] = (256, 1024, 4096),
    quick: bool = False,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the suite at each thread count; every row also goes to ``on_row`` as it is measured."""
    for g in groups:
        if g not in GROUPS:
            raise ConfigError(invalid("groups", g, GROUPS))
    for s in sizes:
        if s not in SIZES:
            raise ConfigError(invalid("sizes", s, list(SIZES)))
    results: dict[str, Any] = {"load_average_at_start": os.getloadavg(), "threads": {}}
    for n in threads:
        torch.set_num_threads(n)
        ceiling = gemm_ceiling()
        gens = {
            "fused": lambda: fused_rows(list(sizes), reps, keras_reps, quick),
            "features": lambda: feature_rows(list(sizes), reps),
            "decode": lambda: decode_rows(),
            "scan": lambda: scan_rows(list(scan_lengths), reps),
        }
        rows = []
        for group in groups:
            for row in gens[group]():
                row["threads"] = n
                row["gemm_gflops"] = ceiling  # each row keeps the ceiling it was set against
                if "torch_gflops" in row:
                    row["torch_of_ceiling"] = row["torch_gflops"] / ceiling
                rows.append(row)
                if on_row is not None:
                    on_row(row)
        results["threads"][str(n)] = {"gemm_gflops": ceiling, "rows": rows}
    return results


# ---------------------------------------------------------------- bench/speed.py
def main() -> None:
    """``bench/speed.py``: run the suite, print a table per group, write speed-cpu.json."""
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

    suite = run_suite(
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
