"""Image captioning: score trained caption runs side by side (greedy and beam) on their test split.

Train the runs with the CLI first (each command is rebuilt from its run.json into the results):

    rnnkit train caption --data shapes_captions --out runs/cap-att --threads 1
    rnnkit train caption --data shapes_captions --model no_attention --out runs/cap-noatt --threads 1
    rnnkit train caption --data shapes_captions --model slots --units 512 --out runs/cap-slots --threads 1
    rnnkit train caption --data digit_strips --out runs/digits-att --threads 1

then

    OMP_NUM_THREADS=1 .venv/bin/python bench/caption.py runs/cap-att runs/cap-noatt runs/cap-slots \
        --result caption-shapes.json

Scores per run and decoder (greedy; beam 3 for the recurrent models): BLEU-4 (sacrebleu) and
exact match on canonical captions, truthfulness precision/recall, per test subset (seen and
held-out compositions); digit strips: whole-sequence accuracy and digit error rate. The
training time is the run's own (metrics.json), under whatever load the machine had then.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from typing import Any

import torch

from rnnkit.benchmarks.common import environment, table, write_json
from rnnkit.tasks import runs
from rnnkit.tasks.caption.config import CaptionConfig
from rnnkit.tasks.caption.data import load_caption_data
from rnnkit.tasks.caption.predictor import CaptionPredictor


def train_command(run_dir: str, config: dict[str, Any]) -> str:
    """The ``rnnkit train caption`` command that gives this run's config (non-default keys)."""
    default = CaptionConfig().to_dict()
    args = ["rnnkit", "train", "caption", "--out", run_dir]
    for key, value in config.items():
        if key in ("threads",) or value == default.get(key):
            continue
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        args += [f"--{key.replace('_', '-')}", text]
    return shlex.join(args)


def score_run(run_dir: str, beams: list[int], limit: int | None) -> list[dict[str, Any]]:
    predictor = CaptionPredictor.load(run_dir)
    run = runs.open_run(run_dir, "caption")
    metrics = run.read_json(runs.METRICS_FILE)
    data = load_caption_data(predictor.config.replace(max_samples=None))
    test = data.test.per_subset(limit)
    rows = []
    slots = predictor.config.model == "slots"
    for beam in [1] if slots else beams:
        t0 = time.perf_counter()
        scores = predictor.score(test, beam=beam)
        seconds = time.perf_counter() - t0
        row: dict[str, Any] = {
            "run": run_dir,
            "data": predictor.config.data,
            "model": predictor.config.model,
            "cell": predictor.config.cell,
            "decoder": "slots"
            if predictor.config.model == "slots"
            else ("greedy" if beam == 1 else f"beam {beam}"),
            "epochs": predictor.config.epochs,
            "train_minutes": round(metrics.get("train_seconds_this_session", float("nan")) / 60, 1),
            "parameters": metrics.get("parameters"),
            "decode_seconds": round(seconds, 1),
            "scores": scores,
            "train_command": train_command(run_dir, run.config),
        }
        rows.append(row)
    return rows


def flat(row: dict[str, Any]) -> dict[str, Any]:
    """One table line: the headline scores of a row."""
    s = row["scores"]
    out = {k: row[k] for k in ("run", "decoder", "train_minutes")}
    if "seen" in s:
        out |= {
            "seen_exact": s["seen"]["exact_match"],
            "seen_bleu4": s["seen"]["bleu4"],
            "held_exact": s["held_out"]["exact_match"],
            "held_truth_p": s["held_out"]["truth_precision"],
            "held_truth_r": s["held_out"]["truth_recall"],
        }
    elif "sequence_accuracy" in s:
        out |= {"seq_acc": s["sequence_accuracy"], "digit_err": s["digit_error_rate"], "bleu4": s["bleu4"]}
    else:
        out |= {"exact": s.get("exact_match"), "bleu4": s.get("bleu4")}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="caption run directories")
    p.add_argument("--beams", default="1,3", help="beam widths to score (1 = greedy)")
    p.add_argument("--limit", type=int, default=None, help="first N test images per subset")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--result", default="", help="file name under bench/results ('' = none)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    beams = [int(b) for b in args.beams.split(",")]
    rows = [row for r in args.runs for row in score_run(r, beams, args.limit)]
    lines = [flat(r) for r in rows]
    print(table(lines, list(dict.fromkeys(k for line in lines for k in line))))
    if args.result:
        payload = {
            "command": "python bench/caption.py " + shlex.join(sys.argv[1:] if argv is None else argv),
            "environment": environment(),
            # the training minutes in the rows were measured under the same kind of load
            "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()],
            "rows": rows,
        }
        print(f"wrote {write_json(args.result, payload)}")


if __name__ == "__main__":
    main()
