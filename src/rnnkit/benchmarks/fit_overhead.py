"""fit's overhead: ``model.fit`` against a hand-written PyTorch loop, same model, same data.

The model is a 2-layer LSTM classifier (rnnkit ``Sequential``, so both contenders
run the very same modules); both use Adam (lr 1e-3, eps 1e-7), shuffle every
epoch, take batches of 64 and read the loss once per step. One epoch of each, in
alternation (hand, fit, hand, fit ...), medians; fit's time is the whole call
(data checks, callbacks, History) so the ratio is conservative. Target: <= 1.05.

    .venv/bin/python bench/fit_overhead.py            # CPU (or CUDA when present)
    .venv/bin/python bench/fit_overhead.py --quick

Writes bench/results/fit-overhead.json (fit-overhead-cuda.json on a GPU).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import torch
import torch.nn.functional as F

from rnnkit import Sequential, layers, optimizers, set_seed
from rnnkit.benchmarks.common import alternate_all, environment, table, write_json
from rnnkit.models.losses import BinaryCrossentropy


def make_model(F_in: int, H: int, device: torch.device) -> Sequential:
    model = Sequential([layers.LSTM(H, return_sequences=True), layers.LSTM(H), layers.Dense(1)])
    model(torch.zeros(1, 2, F_in))  # build
    return model.to(device)


def per_step_overhead(device: torch.device, n_steps: int = 400, rounds: int = 7) -> float:
    """fit's fixed Python cost per step, in microseconds: a model so small that compute is ~0."""
    x, y = torch.randn(n_steps * 8, 4), torch.randn(n_steps * 8, 1)
    hand_model, fit_model = make_dense(device), make_dense(device)
    opt = torch.optim.Adam(hand_model.parameters(), lr=1e-3, eps=1e-7)
    xd, yd = x.to(device), y.to(device)

    def hand() -> None:
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 8):
            idx = perm[i : i + 8].to(device)
            opt.zero_grad(set_to_none=True)
            loss = F.mse_loss(hand_model(xd[idx]), yd[idx])
            loss.backward()
            opt.step()
            loss.item()

    fit_model.compile(optimizer=optimizers.Adam(1e-3), loss="mse", device=device)
    times = alternate_all(
        {"hand": hand, "fit": lambda: fit_model.fit(x, y, batch_size=8, epochs=1, verbose=0)}, reps=rounds
    )
    return 1e6 * (statistics.median(times["fit"]) - statistics.median(times["hand"])) / n_steps


def make_dense(device: torch.device) -> Sequential:
    model = Sequential([layers.Dense(1)])
    model(torch.zeros(1, 4))
    return model.to(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and rounds")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 15, quick 5)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1: steadier on a shared machine)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    N, T, F_in, H, B = (512, 30, 16, 64, 64) if args.quick else (1024, 50, 32, 128, 64)
    rounds = args.rounds or (5 if args.quick else 15)

    set_seed(0)
    x = torch.randn(N, T, F_in)
    y = (x[:, :, 0].sum(dim=1) > 0).float()
    hand_model = make_model(F_in, H, device)
    fit_model = make_model(F_in, H, device)
    fit_model.load_state_dict(hand_model.state_dict())

    opt = torch.optim.Adam(hand_model.parameters(), lr=1e-3, eps=1e-7)
    xd, yd = x.to(device), y.to(device)

    def hand_epoch() -> float:
        hand_model.train()
        total = 0.0
        perm = torch.randperm(N)
        for i in range(0, N, B):
            idx = perm[i : i + B]
            xb, yb = xd[idx.to(device)], yd[idx.to(device)]
            opt.zero_grad(set_to_none=True)
            loss = F.binary_cross_entropy_with_logits(hand_model(xb).squeeze(-1), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        return total / N

    fit_model.compile(
        optimizer=optimizers.Adam(1e-3), loss=BinaryCrossentropy(from_logits=True), device=device
    )

    def fit_epoch() -> None:
        fit_model.fit(x, y, batch_size=B, epochs=1, shuffle=True, verbose=0)

    times = alternate_all({"hand-written loop": hand_epoch, "rnnkit fit": fit_epoch}, reps=rounds, warmup=1)
    medians = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    ratio = medians["rnnkit fit"] / medians["hand-written loop"]
    ratio_best = best["rnnkit fit"] / best["hand-written loop"]
    # Paired ratios: each fit epoch against the hand epoch run just before it, so that
    # load from other processes (this machine is shared) hits both sides of a pair alike.
    paired = statistics.median(
        f / h for h, f in zip(times["hand-written loop"], times["rnnkit fit"], strict=True)
    )
    rows = [
        {
            "contender": name,
            "s/epoch": t,
            "ms/step": 1e3 * t / -(-N // B),
            "ratio": t / medians["hand-written loop"],
        }
        for name, t in medians.items()
    ]
    print(
        f"2-layer LSTM({H}) classifier, {N} x {T} x {F_in}, batch {B}, {rounds} alternating rounds, {device}"
    )
    print(table(rows, ["contender", "s/epoch", "ms/step", "ratio"]))
    print(
        f"fit / hand-written: ratio of medians {ratio:.3f}, of bests {ratio_best:.3f}, "
        f"median of paired ratios {paired:.3f} (target <= 1.05)"
    )
    overhead_us = per_step_overhead(device)
    print(f"fixed cost per step (tiny Dense model, compute ~0): fit - hand = {overhead_us:.0f} us/step")
    name = "fit-overhead.json" if device.type == "cpu" else "fit-overhead-cuda.json"
    path = write_json(
        name,
        {
            "command": "python " + " ".join(["bench/fit_overhead.py", *sys.argv[1:]]),
            "environment": environment(),
            "config": {
                "N": N,
                "T": T,
                "features": F_in,
                "units": H,
                "layers": 2,
                "batch": B,
                "rounds": rounds,
            },
            "threads": args.threads,
            "seconds_per_epoch": times,
            "median_s_per_epoch": medians,
            "ratio_fit_over_hand": ratio,
            "ratio_of_best": ratio_best,
            "median_paired_ratio": paired,
            "target": 1.05,
            "per_step_overhead_us": overhead_us,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
