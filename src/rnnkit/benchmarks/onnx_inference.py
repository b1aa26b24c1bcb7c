"""Inference speed: onnxruntime on rnnkit's ONNX export vs rnnkit itself, same model, same inputs.

Each row exports one model (``model.export``), then times ``session.run`` and rnnkit's
forward pass (``torch.no_grad``, eval mode) in alternation (ort, rnnkit, ort, ...) and
reports the medians and their ratio. Both run on ``--threads`` CPU threads. The outputs
are compared first (max abs difference), so the two compute the same thing.

    .venv/bin/python bench/onnx_inference.py            # writes bench/results/onnx-inference.json
    .venv/bin/python bench/onnx_inference.py --quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit import Input, Sequential, layers, set_seed
from rnnkit.benchmarks.common import environment, table, write_json
from rnnkit.benchmarks.timing import alternate_all


def _ids(batch: int, length: int, vocab: int) -> torch.Tensor:
    x = torch.randint(1, vocab, (batch, length))
    lengths = torch.randint(length // 2, length + 1, (batch,))
    return x.masked_fill(torch.arange(length)[None, :] >= lengths[:, None], 0)  # right-padded


def configurations(quick: bool) -> list[tuple[str, Callable[[], Sequential], Callable[[], torch.Tensor]]]:
    scale = 2 if quick else 1
    return [
        (
            f"BiLSTM(64) sentiment, Embedding 20k x 128 masked, batch 32 x {200 // scale} steps",
            lambda: Sequential(
                [
                    layers.Embedding(20_000, 128, mask_zero=True),
                    layers.Bidirectional(layers.LSTM(64)),
                    layers.Dense(1),
                ]
            ),
            lambda: _ids(32, 200 // scale, 20_000),
        ),
        (
            f"LSTM(256) + 10k-word softmax, batch 1 x {50 // scale} steps",
            lambda: Sequential(
                [layers.Embedding(10_000, 256), layers.LSTM(256, return_sequences=True), layers.Dense(10_000)]
            ),
            lambda: torch.randint(1, 10_000, (1, 50 // scale)),
        ),
        (
            f"2 x GRU(64) forecaster, batch 64 x {100 // scale} steps x 8 features",
            lambda: Sequential(
                [
                    Input(shape=(None, 8)),
                    layers.GRU(64, return_sequences=True),
                    layers.GRU(64),
                    layers.Dense(1),
                ]
            ),
            lambda: torch.randn(64, 100 // scale, 8),
        ),
        (
            f"SimpleRNN(128), batch 16 x {100 // scale} steps x 32 features",
            lambda: Sequential([Input(shape=(None, 32)), layers.SimpleRNN(128), layers.Dense(4)]),
            lambda: torch.randn(16, 100 // scale, 32),
        ),
    ]


def measure(name: str, make: Callable[[], Sequential], data: Callable[[], torch.Tensor], rounds: int,
            threads: int) -> dict[str, Any]:  # fmt: skip
    import onnxruntime as ort

    model = make()
    x = data()
    model(x[:2])  # build
    model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.onnx"
        model.export(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x.numpy()}
    with torch.no_grad():
        expected = model(x).numpy()
    diff = float(np.abs(session.run(None, feed)[0] - expected).max())

    def rnnkit_forward() -> None:
        with torch.no_grad():
            model(x)

    times = alternate_all({"onnxruntime": lambda: session.run(None, feed), "rnnkit": rnnkit_forward},
                          reps=rounds, warmup=2)  # fmt: skip
    med = {k: statistics.median(v) for k, v in times.items()}
    paired = statistics.median(o / r for o, r in zip(times["onnxruntime"], times["rnnkit"], strict=True))
    return {
        "model": name,
        "ort_ms": 1e3 * med["onnxruntime"],
        "rnnkit_ms": 1e3 * med["rnnkit"],
        "ort/rnnkit": med["onnxruntime"] / med["rnnkit"],
        "paired": paired,
        "max_abs_diff": diff,
        "kernels": {k: str(v) for k, v in model.kernels().items()},
        "seconds": times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter sequences, fewer rounds")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 21, quick 7)")
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU threads for both (1: steadier when shared)"
    )
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    torch.set_num_threads(args.threads)
    set_seed(0)
    rounds = args.rounds or (7 if args.quick else 21)
    rows = [
        measure(name, make, data, rounds, args.threads) for name, make, data in configurations(args.quick)
    ]
    print(f"onnxruntime vs rnnkit inference, {args.threads} thread(s), {rounds} alternating rounds, medians")
    print(table(rows, ["model", "ort_ms", "rnnkit_ms", "ort/rnnkit", "paired", "max_abs_diff"]))
    command = "python " + " ".join(["bench/onnx_inference.py", *sys.argv[1:]])
    path = write_json(
        "onnx-inference.json",
        {
            "command": command,
            "environment": environment(),
            "threads": args.threads,
            "rounds": rounds,
            "rows": [{**r, "command": command} for r in rows],
        },
    )
    print(f"wrote {path}")
