"""Is data loading ever the bottleneck? Tokenizing and batching IMDB vs one training step.

Per batch of 64 IMDB reviews (maxlen 400, the ANCHORS.md baseline setup):
  * data:   WordTokenizer.encode of 64 raw reviews + collate (pad, lengths, mask)
  * data (pre-encoded): collate only, when the ids are encoded once up front
  * step:   Embedding(20k, 128) -> BiLSTM(128) -> Dense(1) forward + backward + Adam,
            on torch.nn (the fastest CPU path; rnnkit's layers can only be slower)
The contenders alternate and each reports its median; the ratio step / data says how
many batches the loader could prepare per training step. One-off costs (fitting the
vocabulary, encoding the whole train split) are reported separately.

    .venv/bin/python bench/data_throughput.py [--reps 5] [--batch-size 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import torch

from rnnkit import datasets
from rnnkit.benchmarks.common import alternate, environment, table, write_json
from rnnkit.data import WordTokenizer, bucket_batches, collate


class BiLSTMClassifier(torch.nn.Module):
    def __init__(self, vocab: int, dim: int = 128, hidden: int = 128) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, dim, padding_idx=0)
        self.rnn = torch.nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.out = torch.nn.Linear(2 * hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(self.emb(x))  # (B, T, 2H)
        return self.out(h.max(dim=1).values).squeeze(-1)  # max-pool over time -> (B,)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--maxlen", type=int, default=400)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    t0 = time.perf_counter()
    imdb = datasets.load("imdb")
    t_load = time.perf_counter() - t0
    texts, labels = imdb.train.texts, imdb.train.labels
    t0 = time.perf_counter()
    tok = WordTokenizer(max_size=20_000).fit(texts)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    encoded = tok.encode_batch(texts)
    t_encode_all = time.perf_counter() - t0

    B, L = args.batch_size, args.maxlen
    rng = random.Random(0)
    model = BiLSTMClassifier(tok.vocab_size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    # Length-bucketed batches, as a trainer would use them (padding is then small).
    batches = bucket_batches([min(len(e), L) for e in encoded], B, seed=0, drop_last=True)
    fixed = batches[len(batches) // 2]  # a typical batch for the training step

    def data_raw() -> None:
        idx = rng.choice(batches)
        collate([(tok.encode(texts[i]), float(labels[i])) for i in idx], maxlen=L)

    def data_encoded() -> None:
        idx = rng.choice(batches)
        collate([(encoded[i], float(labels[i])) for i in idx], maxlen=L)

    step_batch = collate([(encoded[i], float(labels[i])) for i in fixed], maxlen=L)

    def train_step() -> None:
        opt.zero_grad()
        loss = loss_fn(model(step_batch.inputs), step_batch.targets.float())
        loss.backward()
        opt.step()

    contenders = {
        "data: encode + collate": data_raw,
        "data: collate (pre-encoded)": data_encoded,
        "train step": train_step,
    }
    med = alternate(contenders, reps=args.reps)
    step = med["train step"]
    rows = [
        {"what": name, "median ms": 1000 * s, "step / this": step / s if s else None}
        for name, s in med.items()
    ]
    print(table(rows, ["what", "median ms", "step / this"]))
    print(
        f"one-off: load imdb {t_load:.2f} s, fit vocabulary {t_fit:.2f} s, "
        f"encode {len(texts):,} reviews {t_encode_all:.2f} s; batch {B} x up to {L} "
        f"(this step's batch: T = {step_batch.inputs.shape[1]})"
    )
    path = write_json(
        "data-throughput.json",
        {
            "command": "python bench/data_throughput.py " + " ".join(sys.argv[1:]),
            "environment": environment(),
            "batch_size": B,
            "maxlen": L,
            "step_batch_T": int(step_batch.inputs.shape[1]),
            "reps": args.reps,
            "median_seconds": med,
            "ratio_step_over_encode_and_collate": step / med["data: encode + collate"],
            "ratio_step_over_collate": step / med["data: collate (pre-encoded)"],
            "one_off_seconds": {"load_imdb": t_load, "fit_vocabulary": t_fit, "encode_train": t_encode_all},
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
