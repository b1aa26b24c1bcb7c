"""The five types of RNN side by side on one real dataset: accuracy and training time.

SimpleRNN, LSTM, GRU, a bidirectional LSTM and a deep (two-layer) LSTM read the same IMDB
reviews (the bundled ``imdb`` dataset) through the same embedding and head:

    Embedding(V, E, mask_zero=True) -> <the recurrent part> -> Dense(1, sigmoid)

Each reads the last ``maxlen`` words of a review (Keras's ``pad_sequences`` keeps the end)
and classifies from its final state, so the comparison is about memory: a SimpleRNN must
carry the review's sentiment across up to ``maxlen`` steps. Training time is measured side by
side: the five models train in turns, one epoch each per round, and each type's median epoch
time is divided by the LSTM's from the same rounds (ratios, not lone absolute times).
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from rnnkit import layers
from rnnkit.benchmarks.common import write_json
from rnnkit.data.sequences import pad_sequences
from rnnkit.data.tokenizers import WordTokenizer
from rnnkit.models import Sequential
from rnnkit.utils.seed import set_seed


@dataclass(frozen=True)
class Setup:
    train_samples: int = 10000  # reviews used for training (from the imdb train split)
    test_samples: int = 5000  # reviews scored (from the imdb test split)
    maxlen: int = 200  # words read per review (the last ones)
    vocab: int = 20000
    embedding: int = 64
    units: int = 64
    epochs: int = 4
    batch_size: int = 64
    seed: int = 0


TYPES: dict[str, str] = {
    "SimpleRNN": "SimpleRNN(64)",
    "LSTM": "LSTM(64)",
    "GRU": "GRU(64)",
    "Bidirectional": "Bidirectional(LSTM(64))",
    "Deep (2 x LSTM)": "LSTM(64, return_sequences=True), LSTM(64)",
}


def recurrent_part(kind: str, units: int) -> list[torch.nn.Module]:
    if kind == "SimpleRNN":
        return [layers.SimpleRNN(units)]
    if kind == "LSTM":
        return [layers.LSTM(units)]
    if kind == "GRU":
        return [layers.GRU(units)]
    if kind == "Bidirectional":
        return [layers.Bidirectional(layers.LSTM(units))]
    return [layers.LSTM(units, return_sequences=True), layers.LSTM(units)]


def load_data(setup: Setup) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from rnnkit import datasets

    imdb = datasets.load("imdb")
    rng = np.random.default_rng(setup.seed)
    tr = rng.permutation(len(imdb.train.texts))[: setup.train_samples]
    te = rng.permutation(len(imdb.test.texts))[: setup.test_samples]
    train_texts = [imdb.train.texts[i] for i in tr]
    test_texts = [imdb.test.texts[i] for i in te]
    tok = WordTokenizer(max_size=setup.vocab).fit(train_texts)
    x_train = pad_sequences(tok.encode_batch(train_texts), maxlen=setup.maxlen)
    x_test = pad_sequences(tok.encode_batch(test_texts), maxlen=setup.maxlen)
    y_train = np.asarray(imdb.train.labels, dtype=np.float32)[tr]
    y_test = np.asarray(imdb.test.labels, dtype=np.float32)[te]
    return x_train, y_train, x_test, y_test


def run(setup: Setup, types: list[str] | None = None) -> dict[str, Any]:
    """Train every type in round-robin epochs; accuracy, parameters and time ratios."""
    names = types or list(TYPES)
    x_train, y_train, x_test, y_test = load_data(setup)
    vocab = int(max(x_train.max(), x_test.max())) + 1
    models = {}
    for name in names:
        set_seed(setup.seed)
        model = Sequential(
            [
                layers.Embedding(vocab, setup.embedding, mask_zero=True),
                *recurrent_part(name, setup.units),
                layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        models[name] = model
    for model in models.values():  # first calls build weights and load kernels: keep them out of the timing
        model.predict(x_train[: setup.batch_size], verbose=0)
    epoch_seconds: dict[str, list[float]] = {name: [] for name in names}
    for epoch in range(setup.epochs):
        for name, model in models.items():  # one epoch each per round: slow spells hit all alike
            t0 = time.perf_counter()
            fit_args = {"epochs": epoch + 1, "initial_epoch": epoch, "batch_size": setup.batch_size}
            model.fit(x_train, y_train, verbose=0, **fit_args)
            epoch_seconds[name].append(time.perf_counter() - t0)
    lstm_median = statistics.median(epoch_seconds.get("LSTM") or next(iter(epoch_seconds.values())))
    rows = []
    for name, model in models.items():
        _, accuracy = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
        rows.append(
            {
                "type": name,
                "layers": TYPES[name],
                "parameters": int(model.count_params()),
                "test_accuracy": float(accuracy),
                "median_epoch_seconds": statistics.median(epoch_seconds[name]),
                "train_seconds_ratio": statistics.median(epoch_seconds[name]) / lstm_median,
                "kernels": [k for _, k, _ in layers.kernel_report(model)],
            }
        )
    return {
        "dataset": (
            f"IMDB reviews (bundled `imdb`): {setup.train_samples:,} train / {setup.test_samples:,} test, "
            f"the last {setup.maxlen} words"
        ),
        "setup": (
            f"Embedding({setup.embedding}, mask_zero=True) -> type -> Dense(1, sigmoid), "
            f"Adam, {setup.epochs} epochs, batch {setup.batch_size}, {torch.get_num_threads()} thread(s)"
        ),
        "config": asdict(setup),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
        print(f"wrote {write_json(args.result, result)}")
