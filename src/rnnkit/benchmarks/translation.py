"""English -> Spanish translation on bible_en_es: the model against Apertium, on two splits.

    OMP_NUM_THREADS=1 .venv/bin/python bench/translation.py train --out runs/mt-main \
        --minutes 58 --result translation-main.json
    ... bench/translation.py score --run runs/mt-main --set no_repeat_ngram=3 \
        --set length_penalty=2.0 --beams 5,1 --into translation-main.json
    ... bench/translation.py train --out runs/mt-abl-lstm-none --minutes 5 --set budget_clock=cpu \
        --set attention=none --beams 5 --result ...      (ablations: equal CPU budgets)
    ... bench/translation.py speed --run runs/mt-main --set no_repeat_ngram=3 --result translation-speed.json
    ... bench/translation.py diagnose --run runs/mt-main --result translation-diagnosis.json

One model is trained for both splits: on the verses that are training verses in *both* the
random split and the book-level split (``bible_en_es:books``), so neither test set leaks into
training. It is scored with sacrebleu (BLEU and chrF, default settings, signatures recorded)
on the random test verses and on the held-out books' verses, with beam search and greedy,
beside Apertium (``apertium -u eng-spa``) on the same sentences with the same sacrebleu call.

``--snapshot-of RUN`` also scores RUN's end-of-epoch-1 snapshot, for ablations trained one
epoch (no attention, GRU) against the main model after the same number of updates.

``speed`` decodes test sentences at 1 thread: sentences per second at beam 1 and 5, batch 1
and 32, the four settings in alternation (rounds), medians, and ratios to beam 1 / batch 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

import torch

from rnnkit.benchmarks.common import RESULTS, environment, table, write_json
from rnnkit.data import load_tokenizer
from rnnkit.models import load_model
from rnnkit.models.callbacks import Callback
from rnnkit.tasks import runs
from rnnkit.tasks.translation.baselines import apertium_translate
from rnnkit.tasks.translation.config import TranslationConfig
from rnnkit.tasks.translation.data import PairSplits
from rnnkit.tasks.translation.predictor import (
    SOURCE_TOKENIZER,
    TARGET_TOKENIZER,
    Translator,
    sacrebleu_scores,
)
from rnnkit.tasks.translation.train import train_on

SNAPSHOT = "epoch-1.safetensors"


def both_splits() -> tuple[PairSplits, dict[str, list[tuple[str, str]]]]:
    """Training pairs = train in both splits; tests = the random split's and the held-out books'."""
    from rnnkit import datasets

    rand: Any = datasets.load("bible_en_es")
    books: Any = datasets.load("bible_en_es:books")
    books_train = set(books.keys["train"])
    train = [p for k, p in zip(rand.keys["train"], rand.train, strict=True) if k in books_train]
    # validation (the loss curve): random validation verses outside the held-out books
    held = set(books.keys["validation"]) | set(books.keys["test"])
    val = [p for k, p in zip(rand.keys["validation"], rand.validation, strict=True) if k not in held]
    rand_test = [p for k, p in zip(rand.keys["test"], rand.test, strict=True) if k not in held]
    splits = PairSplits(train, val, rand_test, "bible_en_es: train of both the random and the books split")
    return splits, {"random": rand_test, "books": list(books.test)}


class Snapshot(Callback):
    """Saves the model after epoch 1 (ablations are compared at the same number of updates)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if epoch == 0:
            self.model.save(self.path, include_optimizer=False)


def launch_prefix() -> str:
    """How this process was started (thread variables and niceness), for the recorded command."""
    env = [f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY") if k in os.environ]
    nice = os.nice(0)
    return " ".join([*env, *([f"nice -n {nice}"] if nice else []), ".venv/bin/python", ""])


def scheduling() -> str:
    """This process's niceness and autogroup (with autogroups on, niceness only ranks processes
    of one session; the autogroup's own nice value ranks it against other sessions)."""
    try:
        group = Path("/proc/self/autogroup").read_text().strip()
    except OSError:
        group = "no autogroup"
    return f"nice {os.nice(0)}, {group}"


def score_all(tr: Translator, tests: dict[str, list[tuple[str, str]]], beams: tuple[int, ...]) -> list[dict]:
    rows = []
    for split, pairs in tests.items():
        for beam in beams:
            t0 = time.perf_counter()
            res = tr.score(pairs, beam=beam)
            rows.append({"system": "model", "split": split, "beam": beam, **res,
                         "decode_seconds": round(time.perf_counter() - t0, 1)})  # fmt: skip
    return rows


def cmd_train(args: argparse.Namespace) -> None:
    values: dict[str, Any] = {
        # the output layer dominates a step: fewer subwords, faster steps (4k vs 8k not benchmarked)
        "src_vocab": 4000,
        "tgt_vocab": 4000,
        # ~7 epochs in an hour with bf16: regularise a little more (the held-out books need it)
        "dropout": 0.2,
        # bfloat16 autocast: ~1.7x the tokens per second on this AVX512-BF16 CPU, and at equal
        # CPU time the lower validation loss (a spot check, 4.81 vs 5.19 nats after 150 CPU-s;
        # no result file holds it)
        "mixed_precision": "bf16",
        "lr_decay": 0.3,  # a budget-cut run should end at lr 0, not mid-plateau: decay over the last 30%
        "epochs": 20,  # the time budget ends the run first
        "threads": 1,
        "max_minutes": args.minutes,
    }
    if args.until:  # a wall-clock deadline (HH:MM, UTC): train until then, whatever share of the CPU we get
        hh, mm = (int(x) for x in args.until.split(":"))
        now = time.gmtime()
        values["max_minutes"] = round((hh * 60 + mm) - (now.tm_hour * 60 + now.tm_min + now.tm_sec / 60), 1)
    values.update(TranslationConfig.from_overrides(args.set))
    config = TranslationConfig.from_dict(values)
    data, tests = both_splits()
    if args.eval:
        tests = {k: v[: args.eval] for k, v in tests.items()}
    out = Path(args.out)
    cbs = [Snapshot(out / SNAPSHOT)]
    t0 = time.perf_counter()
    # the rows below score every test set; metrics.json's own beam-5 pass would double the decoding
    metrics = train_on(config, runs.TrainOptions(out, quiet=True), data, callbacks=cbs, score_splits=False)
    wall = time.perf_counter() - t0
    tr = Translator.load(out)
    rows: list[dict[str, Any]] = []
    payload: dict[str, Any] = {
        "command": launch_prefix() + shlex.join(sys.argv),
        "config": config.to_dict(),
        "training": metrics,
        "wall_seconds": round(wall, 1),  # tokenizers, training and the final save
        "train_wall_minutes": round(metrics["train_seconds_this_session"] / 60, 1),
        "train_cpu_minutes": round(metrics["train_cpu_seconds_this_session"] / 60, 1),
        "scheduling": scheduling(),
        "history": runs.read_history(out / runs.HISTORY_FILE),
        "rows": rows,
        "environment": environment(),
    }

    def add(row: dict[str, Any]) -> None:  # written after every row: a late kill keeps what was measured
        rows.append(row)
        payload["load_average"] = os.getloadavg()
        write_json(args.result, payload)
        print(table([row], ["system", "split", "beam", "bleu", "chrf", "sentences"]), flush=True)

    for split, pairs in tests.items():
        refs = [t for _, t in pairs]
        add({"system": "apertium -u eng-spa", "split": split, "beam": None,
             **sacrebleu_scores(apertium_translate([s for s, _ in pairs]), refs)})  # fmt: skip
        add({"system": "copy source", "split": split, "beam": None,
             **sacrebleu_scores([s for s, _ in pairs], refs)})  # fmt: skip
    for beam in [int(b) for b in args.beams.split(",")]:  # beam 5 on both splits first: the target's figures
        for row in score_all(tr, tests, (beam,)):
            add(row)
    if args.snapshot_of:
        snap = Path(args.snapshot_of)
        ref = Translator(
            load_model(snap / SNAPSHOT, compile=False),
            load_tokenizer(snap / SOURCE_TOKENIZER),  # type: ignore[arg-type]
            load_tokenizer(snap / TARGET_TOKENIZER),  # type: ignore[arg-type]
            TranslationConfig.from_dict(runs.open_run(snap).config),
        )
        for row in score_all(ref, tests, (5,)):
            add({**row, "system": f"{snap.name} after epoch 1"})
        mine = Translator(load_model(out / SNAPSHOT, compile=False), tr.src_tok, tr.tgt_tok, tr.config)
        for row in score_all(mine, tests, (5,)):
            add({**row, "system": "model after epoch 1"})
    print(table(rows, ["system", "split", "beam", "bleu", "chrf", "sentences"]))
    print("BLEU signature:", rows[0]["bleu_signature"])
    print("chrF signature:", rows[0]["chrf_signature"])
    payload["examples"] = [
        {"source": s, "reference": t, "model": tr.translate(s, beam=5)[0][0].text}
        for s, t in tests["books"][:3]
    ]
    print(write_json(args.result, payload))


def output_stats(hyps: list[str], refs: list[str]) -> dict[str, Any]:
    """What separates BLEU from chrF: lengths, loops, and text-level artefacts, beside both scores."""
    from sacrebleu.metrics import BLEU

    b = BLEU().corpus_score(hyps, [refs])

    def loops(text: str) -> bool:  # a word 4-gram said twice: the decoder going round in circles
        w = text.split()
        grams = [tuple(w[i : i + 4]) for i in range(len(w) - 3)]
        return len(grams) != len(set(grams))

    n = len(hyps)
    return {
        **sacrebleu_scores(hyps, refs),
        "bleu_length_ratio": round(b.sys_len / b.ref_len, 3),
        "bleu_brevity_penalty": round(b.bp, 3),
        "bleu_precisions": [round(p, 1) for p in b.precisions],
        "char_length_ratio": round(sum(map(len, hyps)) / sum(map(len, refs)), 3),
        "share_repeating_a_4gram": round(sum(map(loops, hyps)) / n, 3),
        "share_repeating_a_4gram_in_references": round(sum(map(loops, refs)) / n, 3),
        "unk_or_replacement_chars": sum(("<unk>" in h) or ("\ufffd" in h) for h in hyps),
        "space_before_punctuation": sum(bool(re.search(r" [,.;:?!]", h)) for h in hyps),
        "not_nfc": not_nfc(hyps),
        "accented_chars_per_100_chars": accents_per_100_chars(hyps),
    }


def accents_per_100_chars(texts: list[str]) -> float:
    """Spanish accented letters per 100 characters: a model that drops accents scores low on chrF."""
    return round(100 * sum(c in "áéíóúñüÁÉÍÓÚÑ" for t in texts for c in t) / max(1, sum(map(len, texts))), 2)


def not_nfc(texts: list[str]) -> int:
    return sum(not unicodedata.is_normalized("NFC", t) for t in texts)


def cmd_diagnose(args: argparse.Namespace) -> None:
    """Hypotheses against references, the model beside Apertium: where chrF and BLEU part ways."""
    tr = Translator.load(args.run)
    torch.set_num_threads(1)
    set_decoding(tr, args.set)
    _, tests = both_splits()
    pairs = tests[args.split][: args.sentences]
    srcs, refs = [s for s, _ in pairs], [t for _, t in pairs]
    model = [h[0].text for h in tr.translate(srcs, beam=5, truncate=True)]
    apertium = apertium_translate(srcs)
    ref_stats = {
        "accented_chars_per_100_chars": accents_per_100_chars(refs),
        "not_nfc": not_nfc(refs),
        "target_tokenizer_round_trip_failures": sum(
            tr.tgt_tok.decode(tr.tgt_tok.encode(r)).strip() != r for r in refs
        ),
    }
    payload = {
        "command": launch_prefix() + shlex.join(sys.argv),
        "run": str(args.run),
        "split": args.split,
        "references": ref_stats,
        "model_beam5": output_stats(model, refs),
        "apertium": output_stats(apertium, refs),
        "examples": [
            {"source": s, "reference": r, "model": m, "apertium": a}
            for s, r, m, a in list(zip(srcs, refs, model, apertium, strict=True))[: args.examples]
        ],
    }
    print(json.dumps({k: payload[k] for k in ("references", "model_beam5", "apertium")}, indent=1))
    print(write_json(args.result, payload))


def load_translator(run: str | Path, weights: str | None = None) -> Translator:
    """A trained run, or one of its weight files (an epoch snapshot, the last checkpoint)."""
    if not weights:
        return Translator.load(run)
    run = Path(run)
    return Translator(
        load_model(run / weights, compile=False),
        load_tokenizer(run / SOURCE_TOKENIZER),  # type: ignore[arg-type]
        load_tokenizer(run / TARGET_TOKENIZER),  # type: ignore[arg-type]
        TranslationConfig.from_dict(runs.open_run(run).config),
    )


def set_decoding(tr: Translator, settings: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` decoding settings (no_repeat_ngram, length_penalty, ...) to a loaded run."""
    decoding = TranslationConfig.from_overrides(settings)  # typed; an unknown key is an error, not a no-op
    for k, v in decoding.items():
        setattr(tr.config, k, v)
    return decoding


def cmd_score(args: argparse.Namespace) -> None:
    """Score a trained run with other decoding settings: on the validation verses (to choose
    them) or on the test splits (rows appended to an existing result file with ``--into``)."""
    torch.set_num_threads(1)
    tr = load_translator(args.run, args.weights)
    decoding = set_decoding(tr, args.set)
    data, tests = both_splits()
    if args.split == "validation":
        tests = {"validation": data.validation}
    if args.eval:
        tests = {k: v[: args.eval] for k, v in tests.items()}
    label = ", ".join(f"{k}={v}" for k, v in decoding.items()) or "as trained"
    rows = [
        {**row, "decoding": label, "weights": args.weights or "model.safetensors"}
        for beam in (int(b) for b in args.beams.split(","))
        for row in score_all(tr, tests, (beam,))
    ]
    print(table(rows, ["split", "beam", "decoding", "bleu", "chrf", "sentences"]))
    command = launch_prefix() + shlex.join(sys.argv)
    if args.into:
        payload = json.loads((RESULTS / args.into).read_text())
        payload["rows"].extend(rows)
        payload.setdefault("scoring_commands", []).append(command)
        print(write_json(args.into, payload))
    else:
        print(write_json(args.result, {"command": command, "run": str(args.run), "rows": rows}))


def cmd_speed(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    tr = Translator.load(args.run)
    set_decoding(tr, args.set)
    _, tests = both_splits()
    sents = [s for s, _ in tests["random"][: args.sentences]]
    settings = [(1, 1), (1, 32), (5, 1), (5, 32)]  # (beam, batch)
    times: dict[tuple[int, int], list[float]] = {s: [] for s in settings}
    cpu: dict[tuple[int, int], list[float]] = {s: [] for s in settings}  # the shared machine's share aside
    tr.translate(sents[:4], beam=5, truncate=True)  # warm up
    for _ in range(args.rounds):
        for beam, batch in settings:  # in alternation: the machine's load hits all alike
            t0, c0 = time.perf_counter(), time.process_time()
            tr.translate(sents, beam=beam, batch_size=batch, truncate=True)
            times[(beam, batch)].append(time.perf_counter() - t0)
            cpu[(beam, batch)].append(time.process_time() - c0)
    base = len(sents) / statistics.median(times[(1, 1)])
    rows = []
    for beam, batch in settings:
        rate = len(sents) / statistics.median(times[(beam, batch)])
        per_cpu = len(sents) / statistics.median(cpu[(beam, batch)])
        rows.append({"beam": beam, "batch": batch, "sentences_per_second": round(rate, 2),
                     "sentences_per_cpu_second": round(per_cpu, 2),
                     "ratio_to_beam1_batch1": round(rate / base, 3)})  # fmt: skip
    print(table(rows, ["beam", "batch", "sentences_per_second", "sentences_per_cpu_second"]))
    payload = {
        "command": launch_prefix() + shlex.join(sys.argv),
        "run": str(args.run),
        "sentences": len(sents),
        "rounds": args.rounds,
        "rows": rows,
        "seconds": {f"beam{b}-batch{n}": v for (b, n), v in times.items()},
        "cpu_seconds": {f"beam{b}-batch{n}": v for (b, n), v in cpu.items()},
        "scheduling": scheduling(),
        "load_average": os.getloadavg(),
        "environment": environment(),
    }
    print(write_json(args.result, payload))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--out", required=True)
    t.add_argument("--minutes", type=float, default=40.0, help="training time budget (wall minutes)")
    t.add_argument("--until", default=None, help="train until this UTC time, HH:MM (instead of --minutes)")
    t.add_argument("--set", action="append", default=[], help="config key=value")
    t.add_argument("--snapshot-of", default=None, help="a run whose epoch-1 snapshot to score too")
    t.add_argument("--eval", type=int, default=None, help="score only the first N test sentences (dry runs)")
    t.add_argument("--beams", default="5,1", help="beam widths to score, in order (1 = greedy)")
    t.add_argument("--result", default="translation-main.json")
    s = sub.add_parser("speed")
    s.add_argument("--run", required=True)
    s.add_argument("--sentences", type=int, default=32)
    s.add_argument("--rounds", type=int, default=2)
    s.add_argument("--set", action="append", default=[], help="decoding key=value (no_repeat_ngram, ...)")
    s.add_argument("--result", default="translation-speed.json")
    c = sub.add_parser("score")
    c.add_argument("--run", required=True)
    c.add_argument("--weights", default=None, help="a weight file of the run instead of model.safetensors")
    c.add_argument("--set", action="append", default=[], help="decoding key=value (no_repeat_ngram, ...)")
    c.add_argument("--split", default="tests", choices=["tests", "validation"])
    c.add_argument("--eval", type=int, default=None, help="score only the first N sentences per split")
    c.add_argument("--beams", default="5")
    c.add_argument("--into", default=None, help="append the rows to this result file")
    c.add_argument("--result", default="translation-score.json")
    d = sub.add_parser("diagnose")
    d.add_argument("--run", required=True)
    d.add_argument("--split", default="random", choices=["random", "books"])
    d.add_argument("--sentences", type=int, default=300)
    d.add_argument("--examples", type=int, default=8)
    d.add_argument("--set", action="append", default=[], help="decoding key=value (no_repeat_ngram, ...)")
    d.add_argument("--result", default="translation-diagnosis.json")
    args = ap.parse_args()
    {"train": cmd_train, "speed": cmd_speed, "diagnose": cmd_diagnose, "score": cmd_score}[args.cmd](args)


if __name__ == "__main__":
    main()
