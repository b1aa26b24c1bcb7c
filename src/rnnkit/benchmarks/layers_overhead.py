"""Fused-path overhead: rnnkit's layers against torch.nn (and Keras 3 on its torch backend).

Forward+backward ("train") and inference ("infer") of one uni-directional layer with
return_sequences=True, on the same weights and inputs, alternating contenders and
taking medians. The issue's target: rnnkit / torch.nn <= 1.03 where the fused kernel
is eligible.

    .venv/bin/python bench/layers_overhead.py                 # both sizes, 1 and 2 threads
    .venv/bin/python bench/layers_overhead.py --quick         # small size, fewer reps

Writes bench/results/layers-overhead-cpu.json.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import torch
from torch import nn

from rnnkit import layers
from rnnkit.benchmarks.common import alternate, environment, table, write_json

SIZES = {"small": (32, 100, 128, 256), "large": (64, 200, 256, 512)}
KINDS = {
    "lstm": (nn.LSTM, layers.LSTM, 4),
    "gru": (nn.GRU, layers.GRU, 3),
    "rnn": (nn.RNN, layers.SimpleRNN, 1),
}


def flops(kind: str, B: int, T: int, D: int, H: int, train: bool) -> float:
    fwd = 2.0 * B * T * (D + H) * KINDS[kind][2] * H
    return fwd * (3.0 if train else 1.0)  # backward ~ 2x forward (input and weight gradients)


def contenders(kind: str, B: int, T: int, D: int, H: int, train: bool, with_keras: bool):
    torch_cls, ours_cls, _ = KINDS[kind]
    ref = torch_cls(D, H, batch_first=True)
    ours = ours_cls(H, return_sequences=True)
    ours.build((None, T, D))
    layers.from_torch(ours, ref)
    x = torch.randn(B, T, D)
    fns = {}

    def make(call):
        def run():
            if train:
                out = call(x)
                out.sum().backward()
            else:
                with torch.no_grad():
                    call(x)

        return run

    fns["torch.nn"] = make(lambda v: ref(v)[0])
    fns["rnnkit"] = make(ours)
    if with_keras:
        import keras

        k_cls = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}[kind]
        k = k_cls(H, return_sequences=True)
        k.build((None, T, D))
        k.set_weights(layers.to_keras(ours))
        fns["keras"] = make(k)
    return fns, ours


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="small,large")
    ap.add_argument("--kinds", default="lstm,gru,rnn")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--keras-reps", type=int, default=2, help="Keras is ~10x slower: fewer reps")
    ap.add_argument("--no-keras", action="store_true")
    ap.add_argument("--quick", action="store_true", help="small size, 2 threads, 3 reps")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.threads, args.reps = "small", "2", 3

    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for size in args.sizes.split(","):
            B, T, D, H = SIZES[size]
            for kind in args.kinds.split(","):
                for train in (True, False):
                    fns, ours = contenders(kind, B, T, D, H, train, with_keras=False)
                    med = alternate(fns, args.reps)
                    if not args.no_keras:
                        kfns, _ = contenders(kind, B, T, D, H, train, with_keras=True)
                        kmed = alternate(kfns, args.keras_reps)
                        keras_ratio = kmed["keras"] / kmed["torch.nn"]
                    else:
                        keras_ratio = None
                    row = {
                        "threads": threads,
                        "size": f"{B}x{T}x{D}->{H}",
                        "kind": kind,
                        "mode": "train" if train else "infer",
                        "kernel": ours.last_kernel.name,
                        "torch_s": med["torch.nn"],
                        "rnnkit_s": med["rnnkit"],
                        "rnnkit/torch": med["rnnkit"] / med["torch.nn"],
                        "keras/torch": keras_ratio,
                        "torch_GFLOPs": flops(kind, B, T, D, H, train) / med["torch.nn"] / 1e9,
                    }
                    rows.append(row)
                    print(table([row], list(row)).splitlines()[-1], flush=True)
    cols = list(rows[0])
    print()
    print(table(rows, cols))
    path = write_json(
        "layers-overhead-cpu.json",
        {
            "command": "python bench/layers_overhead.py " + " ".join(sys.argv[1:]),
            "environment": environment(),
            "reps": args.reps,
            "keras_reps": args.keras_reps,
            "rows": rows,
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
