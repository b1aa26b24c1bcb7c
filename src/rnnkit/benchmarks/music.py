"""Music (issue 18): a trained run's NLL on the tune-grouped test split beside n-gram
baselines on the same split, and the musical checks of 100 generated pieces beside the
test chorales'.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/rnnkit train music --data chorales --voices 1 \
        --out runs/bach --epochs 150 --threads 1 --set patience=12
    OMP_NUM_THREADS=1 .venv/bin/python bench/music.py --run runs/bach --result music-melody.json \
        --train-command "<the command above>"

The same for ``--voices 4`` (``music-satb.json``), which also harmonises the 37 test
sopranos. The melody figures also list the baselines on the dataset's spelled tokens
(``F#4_1.5``), the alphabet the issue's figures (3.6 / 2.9 / 2.85) were measured on.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from typing import Any

import torch

from rnnkit import datasets
from rnnkit.benchmarks.common import environment, table, write_json
from rnnkit.datasets.chorales import shared_tunes
from rnnkit.tasks import runs
from rnnkit.tasks.music.baselines import grid_baselines, interpolated_nll, melody_baselines, ngram_nll
from rnnkit.tasks.music.predictor import MusicModel
from rnnkit.tasks.music.report import checks_beside_bach, harmonisation_checks
from rnnkit.tasks.music.sampling import Sampling
from rnnkit.tasks.music.theory import VOICES, piece_from_chorale


def checks_rows(checks: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for who in ("bach", "model"):
        c = checks[who]
        row: dict[str, Any] = {"pieces": f"{who} ({c['pieces']})", "in key": c["in_key"]}
        row["repeated bars"] = c["repeated_bars"]
        if "crossing" in c:
            row["parallel 5ths/8ves per 100 changes"] = c["parallels_per_100_changes"]
            row["crossing"] = c["crossing"]
        for voice, r in c["range"].items():
            row[f"{voice} range"] = f"{r['lowest']}-{r['highest']} ({r['mean']})"
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a music run directory")
    ap.add_argument("--result", required=True, help="file name under bench/results")
    ap.add_argument("--train-command", default="", help="the command that trained the run (recorded)")
    ap.add_argument("--pieces", type=int, default=100)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--allow-parallels", action="store_true", help="compose without the fifths/octaves guard")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    music = MusicModel.load(args.run)
    run = runs.open_run(args.run, "music")
    metrics = run.read_json(runs.METRICS_FILE)
    ds: Any = datasets.load(music.config.dataset)
    splits = {s: [piece_from_chorale(c) for c in ds.chorales[s]] for s in ("train", "validation", "test")}
    test_nll = music.evaluate("test")
    sampling = Sampling(
        args.temperature, None, args.top_p, args.seed, avoid_parallels=not args.allow_parallels
    )
    result: dict[str, Any] = {
        "command": shlex.join(["python", *sys.argv]),
        "train_command": args.train_command,
        "environment": environment(),
        "data": music.config.dataset,
        "test_tunes_seen_in_train": shared_tunes(ds.chorales["train"], ds.chorales["test"]),
        "config": run.config,
        "parameters": music.model.count_params(),
        "train_seconds": metrics.get("train_seconds_this_session"),
        "epochs_run": len(runs.read_history(run.file(runs.HISTORY_FILE)).get("loss", [])),
        "validation": metrics["validation"],
        "test": test_nll,
        "sampling": {
            "temperature": args.temperature,
            "top_p": args.top_p,
            "seed": args.seed,
            "avoid_parallels": sampling.avoid_parallels,
        },
    }
    if music.voices == 1:
        result["baselines_test"] = melody_baselines(splits)
        names = {1: "unigram", 2: "bigram", 3: "trigram"}
        spelled = {names[o]: ngram_nll(ds.train, ds.validation, ds.test, o) for o in names}
        spelled["interpolated trigram"] = interpolated_nll(ds.train, ds.validation, ds.test)
        result["baselines_test_spelled_tokens"] = spelled
        rows = [{"model": "rnnkit melody LM", "NLL/note": test_nll["nll_per_note"]}]
        rows += [{"model": k, "NLL/note": v["nll"]} for k, v in result["baselines_test"].items()]
        rows += [{"model": f"{k} (spelled tokens)", "NLL/note": v["nll"]} for k, v in spelled.items()]
        print(table(rows, ["model", "NLL/note"]))
    else:
        result["baselines_test"] = grid_baselines(splits)
        rows = [
            {"model": "rnnkit four-voice LM", "NLL/step": test_nll["nll_per_step"], **test_nll["per_voice"]}
        ]
        rows += [
            {"model": k, "NLL/step": v["per_step"], **v["per_voice"]}
            for k, v in result["baselines_test"].items()
        ]
        print(table(rows, ["model", "NLL/step", *VOICES]))
    result["composed"] = checks_beside_bach(music, splits["test"], args.pieces, sampling)
    rows = checks_rows(result["composed"])
    print(table(rows, list(rows[0])))
    if music.voices == 4:
        result["harmonised_test_sopranos"] = harmonisation_checks(music, splits["test"], sampling)
        rows = checks_rows(result["harmonised_test_sopranos"])
        print("harmonising the test sopranos:")
        print(table(rows, list(rows[0])))
    result["seconds"] = round(time.perf_counter() - t0, 1)
    path = write_json(args.result, result)
    print(f"wrote {path}")
    print(json.dumps({"test": test_nll}, indent=1))
