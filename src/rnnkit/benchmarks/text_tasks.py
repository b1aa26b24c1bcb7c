"""Measured quality of the text tasks: IMDB/tweets sentiment, PTB word LM, Shakespeare char LM,
and per-keystroke suggestion latency. Each run writes bench/results/<name>.json with its command.

    .venv/bin/python bench/text_tasks.py sentiment --data imdb --out runs/imdb --result sentiment-imdb.json
    .venv/bin/python bench/text_tasks.py lm --data ptb --out runs/ptb --config configs/lm_ptb.toml
    .venv/bin/python bench/text_tasks.py lm --data shakespeare --out runs/char --config configs/char_lm.toml
    .venv/bin/python bench/text_tasks.py latency runs/ptb [--units 512 --layers 2 --vocab 10000] [--int8]
    .venv/bin/python bench/text_tasks.py int8-quality runs/ptb     # test perplexity, float32 vs int8

Training runs resume from their run directory's checkpoint when restarted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from rnnkit.benchmarks.common import ROOT, environment, write_json


def command() -> str:
    return ".venv/bin/python bench/text_tasks.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def run_sentiment(args: argparse.Namespace) -> dict[str, Any]:
    from rnnkit.tasks.sentiment import SentimentConfig, load_preset, train_sentiment

    overrides = {
        "data": args.data,
        "cell": args.cell,
        "epochs": args.epochs,
        "threads": args.threads,
        "bidirectional": args.bidirectional,
        "max_samples": args.max_samples,
    }
    cfg = load_preset(args.config, SentimentConfig, overrides)
    t0 = time.perf_counter()
    metrics = train_sentiment(cfg, args.out, verbose=0)
    history = (Path(args.out) / "history.csv").read_text().splitlines()
    return {
        "config": cfg.to_dict(),
        "metrics": metrics,
        "history_csv": history,
        "wall_seconds_this_invocation": round(time.perf_counter() - t0, 1),
    }


def run_sentiment_eval(args: argparse.Namespace) -> dict[str, Any]:
    """Test accuracy of a saved checkpoint (e.g. a copy taken after epoch N of a longer run)."""
    import torch

    from rnnkit import datasets
    from rnnkit.data import load_tokenizer
    from rnnkit.models import load_model
    from rnnkit.tasks.sentiment import SentimentClassifier, SentimentConfig

    torch.set_num_threads(1)
    model = load_model(args.checkpoint, compile=False)
    tok = load_tokenizer(Path(args.run) / "tokenizer.json")
    ds: Any = datasets.load(args.data)
    cfg = SentimentConfig.from_dict(json.loads((Path(args.run) / "run.json").read_text())["config"])
    clf = SentimentClassifier(model, tok, ds.classes, cfg)
    return {"checkpoint": args.checkpoint, **clf.evaluate(ds.test.texts, ds.test.labels)}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("sentiment")
    s.add_argument("--data", default="imdb")
    s.add_argument("--out", required=True)
    s.add_argument("--config", default=str(ROOT / "configs" / "sentiment.toml"))
    s.add_argument("--cell", default=None)
    s.add_argument("--bidirectional", type=lambda v: v.lower() == "true", default=None)
    s.add_argument("--epochs", type=int, default=None)
    s.add_argument("--threads", type=int, default=None)
    s.add_argument("--max-samples", type=int, default=None)
    s.add_argument("--result", required=True, help="file name under bench/results/")
    ev = sub.add_parser("sentiment-eval")
    ev.add_argument("--checkpoint", required=True)
    ev.add_argument("--run", required=True)
    ev.add_argument("--data", default="imdb")
    ev.add_argument("--result", required=True)
    lm = sub.add_parser("lm")
    lm.add_argument("--data", required=True)
    lm.add_argument("--out", required=True)
    lm.add_argument("--config", required=True)
    lm.add_argument("--epochs", type=int, default=None)
    lm.add_argument("--threads", type=int, default=None)
    lm.add_argument("--max-steps", type=int, default=None)
    lm.add_argument("--result", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("run", nargs="?", default=None)
    lat.add_argument("--units", type=int, default=512)
    lat.add_argument("--layers", type=int, default=2)
    lat.add_argument("--vocab", type=int, default=10_000)
    lat.add_argument("--keystrokes", type=int, default=300)
    lat.add_argument("--int8", action="store_true", help="decode with int8 weights")
    lat.add_argument("--result", default="suggest-latency.json")
    q8 = sub.add_parser("int8-quality")
    q8.add_argument("run")
    q8.add_argument("--result", default="suggest-int8-quality.json")
    args = p.parse_args()
    if args.what == "sentiment":
        payload = run_sentiment(args)
    elif args.what == "sentiment-eval":
        payload = run_sentiment_eval(args)
    elif args.what == "lm":
        payload = run_lm(args)
    elif args.what == "int8-quality":
        payload = run_int8_quality(args)
    else:
        payload = run_latency(args)
    payload = {"command": command(), "environment": environment(), **payload}
    path = write_json(args.result, payload)
    logging.info("wrote %s:\n%s", path, json.dumps(payload.get("metrics", payload), indent=1)[:3000])


def run_lm(args: argparse.Namespace) -> dict[str, Any]:
    from rnnkit.tasks.language_model import LanguageModel, LMConfig, train_lm
    from rnnkit.tasks.sentiment import load_preset

    overrides = {
        "data": args.data,
        "epochs": args.epochs,
        "threads": args.threads,
        "max_steps": args.max_steps,
    }
    cfg = load_preset(args.config, LMConfig, overrides)
    t0 = time.perf_counter()
    metrics = train_lm(cfg, args.out, verbose=0)
    lm = LanguageModel.load(args.out)
    prompt = "ROMEO:" if cfg.level == "char" else "the company said"
    sample = lm.generate(prompt, 400 if cfg.level == "char" else 60, temperature=0.8, seed=0)
    return {
        "config": cfg.to_dict(),
        "metrics": metrics,
        "history_csv": (Path(args.out) / "history.csv").read_text().splitlines(),
        "sample": {"prompt": prompt, "temperature": 0.8, "seed": 0, "text": prompt + sample},
        "wall_seconds_this_invocation": round(time.perf_counter() - t0, 1),
    }


SENTENCE = "the company said it expects to report a loss for the third quarter because of lower sales "


def run_int8_quality(args: argparse.Namespace) -> dict[str, Any]:
    """Test perplexity of a trained LM through the decoding step, float32 vs int8 weights."""
    import math

    import torch
    import torch.nn.functional as F

    from rnnkit.tasks.decoding import lm_step
    from rnnkit.tasks.language_model import LanguageModel, LMConfig, load_corpus

    torch.set_num_threads(1)
    lm = LanguageModel.load(args.run)
    corpus = load_corpus(LMConfig.from_dict(lm.config.to_dict()), lm.tokenizer)
    ids = torch.tensor(corpus.test)
    B = 10  # streams, as the training script's evaluation
    n = (len(ids) - 1) // B
    x, y = ids[: n * B].view(B, n), ids[1 : n * B + 1].view(B, n)
    out: dict[str, Any] = {"run": args.run, "test_tokens": int(y.numel())}
    for name, int8 in (("float32", False), ("int8", True)):
        w = lm.model.step_weights(int8=int8)
        states, total = w.initial_states(B), 0.0
        t0 = time.perf_counter()
        with torch.no_grad():
            for t in range(n):
                logits, states = lm_step(w, x[:, t], states)
                total += float(F.cross_entropy(logits, y[:, t], reduction="sum"))
        nats = total / y.numel()
        out[name] = {"test_perplexity": math.exp(nats), "nats_per_token": nats,
                     "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
    out["perplexity_ratio_int8_to_float32"] = (
        out["int8"]["test_perplexity"] / out["float32"]["test_perplexity"]
    )
    return out


def run_latency(args: argparse.Namespace) -> dict[str, Any]:
    """Per-keystroke suggestion latency on 1 thread: incremental session vs re-running the prefix."""
    import numpy as np
    import torch

    from rnnkit import datasets
    from rnnkit.data import WordTokenizer
    from rnnkit.tasks.language_model import LanguageModel, LMConfig, RecurrentLM

    torch.set_num_threads(1)
    if args.run:
        lm = LanguageModel.load(args.run, int8=args.int8)
        model_desc = f"trained run {args.run}"
    else:
        # Untrained weights of the target size: latency depends on the shapes, not the values.
        ptb = datasets.load("ptb")
        tok = WordTokenizer(lower=True, punctuation="keep", max_size=args.vocab).fit(ptb.train.splitlines())
        cfg = LMConfig(embed_dim=args.units, units=args.units, num_layers=args.layers, max_vocab=args.vocab)
        model = RecurrentLM(tok.vocab_size, args.units, args.units, args.layers)
        with torch.no_grad():
            model(torch.zeros(1, 2, dtype=torch.long))
        lm = LanguageModel(model, tok, cfg, int8=args.int8)
        model_desc = f"{args.layers} x {args.units} LSTM, vocabulary {tok.vocab_size}, untrained weights"
    model_desc += ", int8 weights" if args.int8 else ", float32 weights"

    def rerun(text: str) -> list[Any]:
        ids, partial = lm.split_context(text)
        lm.model.forget_states()
        with torch.no_grad():
            logits = lm.model(torch.tensor([[lm.new_decoder().start_token, *ids]]))[0, -1]
        cand = lm._completions(partial)
        probs = torch.softmax(logits, dim=-1)[cand]
        return cand[torch.topk(probs, min(3, cand.numel())).indices].tolist()

    incr: list[float] = []
    stepped: list[float] = []
    full: list[float] = []
    reps = max(1, args.keystrokes // len(SENTENCE))
    # Typing is timed in its own loop, as a user types: interleaving the full re-runs (a
    # different, much larger working set) would evict the step's weights from the caches
    # between keystrokes.
    for _ in range(reps):
        session = lm.session()
        for n in range(1, len(SENTENCE) + 1):
            t0 = time.perf_counter()
            steps = session.update(SENTENCE[:n])
            session.suggest(3)
            dt = time.perf_counter() - t0
            incr.append(dt)
            if steps:
                stepped.append(dt)
    for _ in range(reps):
        for n in range(1, len(SENTENCE) + 1):
            t0 = time.perf_counter()
            rerun(SENTENCE[:n])
            full.append(time.perf_counter() - t0)

    def ms(xs: list[float]) -> dict[str, float]:
        a = np.array(xs) * 1e3
        return {
            "p50_ms": round(float(np.percentile(a, 50)), 3),
            "p99_ms": round(float(np.percentile(a, 99)), 3),
            "mean_ms": round(float(a.mean()), 3),
            "n": len(xs),
        }

    # The step alone (lm_step: two cell steps + the output layer), as the kernel engineer will see it.
    from rnnkit.tasks.decoding import lm_step

    w = lm.weights
    st = w.initial_states(1)
    tok1 = torch.tensor([5])
    step_t = []
    with torch.no_grad():
        c0 = time.process_time()
        for _ in range(300):
            t0 = time.perf_counter()
            _, st = lm_step(w, tok1, st)
            step_t.append(time.perf_counter() - t0)
        cpu_ms = (time.process_time() - c0) / 300 * 1e3
    return {
        "model": model_desc,
        "threads": torch.get_num_threads(),
        "typed": SENTENCE,
        "incremental_all_keystrokes": ms(incr),
        "incremental_keystrokes_that_step": ms(stepped),
        "rerun_prefix_all_keystrokes": ms(full),
        "lm_step_alone": ms(step_t),
        "lm_step_alone_cpu_ms_mean": round(cpu_ms, 3),
        "load_average_1min": os.getloadavg()[0],
        "note": "word level: a keystroke inside a word costs no step (the cached distribution is filtered "
        "by the typed prefix); a keystroke that ends a word costs one step per new token.",
    }


if __name__ == "__main__":
    main()
