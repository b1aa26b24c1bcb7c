"""The five types of RNN on one dataset (the guide's chapter 4): accuracy and training time.

    OMP_NUM_THREADS=1 .venv/bin/python bench/five_types.py            # ~15 min on one core
    .venv/bin/python bench/five_types.py --train-samples 500 --test-samples 200 --epochs 1  # a smoke run

Writes bench/results/five-types.json (the docs site's table and figure are made from it).
The measuring code is rnnkit.benchmarks.five_types.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch

from rnnkit.benchmarks.five_types import Setup, run

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--train-samples", type=int, default=Setup.train_samples)
    p.add_argument("--test-samples", type=int, default=Setup.test_samples)
    p.add_argument("--epochs", type=int, default=Setup.epochs)
    p.add_argument("--maxlen", type=int, default=Setup.maxlen)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--result", default="five-types.json", help="file name under bench/results ('' = none)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    setup = Setup(
        train_samples=args.train_samples,
        test_samples=args.test_samples,
        epochs=args.epochs,
        maxlen=args.maxlen,
    )
    result = run(setup)
    result["command"] = "python bench/five_types.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    result["environment"] = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    print(f"{'type':<16} {'params':>9} {'test acc':>9} {'time / LSTM':>12}")
    for r in result["rows"]:
        acc, ratio = r["test_accuracy"], r["train_seconds_ratio"]
        print(f"{r['type']:<16} {r['parameters']:>9,} {acc:>9.1%} {ratio:>12.2f}")
    if args.result:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / args.result
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
