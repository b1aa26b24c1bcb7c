"""ConvLSTM2D speed: rnnkit's fast kernel against its reference loop and Keras 3 (torch backend).

The contenders run the same layer with the same weights on the same batch, in alternation
(medians; ratios to rnnkit's fast kernel measured in the same run):

- ``rnnkit fast``: every step's input convolution in one call, then the recurrent loop;
- ``rnnkit reference``: one full cell step (both convolutions) per time step -- the oracle;
- ``keras``: ``keras.layers.ConvLSTM2D`` on its torch backend (if Keras is installed), which
  convolves the input four times per step, once per gate.

Two measurements per size: a training step (forward + backward of a sum over the outputs) and
inference (``torch.no_grad``). Sizes follow Moving MNIST-style video (Shi et al. 2015 use
64x64 frames); the quick run uses smaller frames.

Clock: with one torch thread all the work runs on the calling thread, so its CPU time
(``time.thread_time``) is the primary figure -- on this shared machine (load often 5-10 on
2 cores) wall time swings 2x between rounds. Wall-time medians are reported beside it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rnnkit import kernels, layers
from rnnkit.benchmarks.common import environment, table, write_json
from rnnkit.layers import from_keras

SIZES = {  # name -> (B, T, rows, cols, C, filters, kernel)
    "small": (4, 8, 16, 16, 1, 8, 3),
    "medium": (8, 10, 32, 32, 1, 16, 3),
}
QUICK_SIZES = {"small": SIZES["small"]}


def _contenders(size: tuple[int, ...], train: bool) -> dict[str, Any]:
    B, T, H, W, C, F, k = size
    x = torch.randn(B, T, H, W, C, requires_grad=train)
    ours = layers.ConvLSTM2D(F, k, padding="same", return_sequences=True)
    ours.build(tuple(x.shape))
    out: dict[str, Any] = {}

    def run(layer: Any) -> None:
        if train:
            layer(x).sum().backward()
        else:
            with torch.no_grad():
                layer(x)

    def reference() -> None:
        with kernels.force("reference"):
            run(ours)

    out["rnnkit fast"] = lambda: run(ours)
    out["rnnkit reference"] = reference
    try:
        import keras
    except ImportError:
        return out
    klayer = keras.layers.ConvLSTM2D(F, k, padding="same", return_sequences=True)
    klayer.build(tuple(x.shape))
    from_keras(ours, klayer.get_weights())  # same weights on both sides
    out["keras"] = lambda: run(klayer)
    return out


def _alternate_cpu(
    contenders: dict[str, Callable[[], Any]], reps: int, warmup: int = 1
) -> dict[str, tuple[float, float]]:
    """(median thread CPU seconds, median wall seconds) per contender, run in alternation."""
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    cpu: dict[str, list[float]] = {n: [] for n in contenders}
    wall: dict[str, list[float]] = {n: [] for n in contenders}
    for _ in range(reps):
        for name, fn in contenders.items():
            c0, w0 = time.thread_time(), time.perf_counter()
            fn()
            cpu[name].append(time.thread_time() - c0)
            wall[name].append(time.perf_counter() - w0)
    return {n: (statistics.median(cpu[n]), statistics.median(wall[n])) for n in contenders}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small size only, fewer repetitions")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--reps", type=int, default=None, help="timed rounds per contender")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    np.random.seed(0)
    reps = args.reps or (5 if args.quick else 9)
    command = "python bench/conv_lstm.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    rows = []
    for name, size in (QUICK_SIZES if args.quick else SIZES).items():
        for mode in ("train", "inference"):
            medians = _alternate_cpu(_contenders(size, mode == "train"), reps=reps, warmup=1)
            base = medians["rnnkit fast"][0]
            for contender, (cpu_s, wall_s) in medians.items():
                rows.append(
                    {
                        "size": name,
                        "shape B,T,H,W,C->F,k": ",".join(map(str, size)),
                        "mode": mode,
                        "contender": contender,
                        "cpu_ms": 1000 * cpu_s,
                        "wall_ms": 1000 * wall_s,
                        "ratio_to_fast": cpu_s / base,
                        "command": command.strip(),
                    }
                )
    print(table(rows, ["size", "mode", "contender", "cpu_ms", "wall_ms", "ratio_to_fast"]))
    suffix = "-quick" if args.quick else ""
    path = write_json(
        f"conv-lstm-cpu{suffix}.json",
        {
            "benchmark": "conv_lstm",
            "reps": reps,
            "clock": "thread CPU time (ratio_to_fast); wall time beside it",
            "loadavg_after": os.getloadavg(),
            "environment": environment(),
            "rows": rows,
        },
    )
    print(f"wrote {path}")
