"""`rnnkit train sentiment` under `torchrun --nproc_per_node 2` (gloo, CPU) follows the
single-process run: each process trains on its shard of every batch, rank 0 alone writes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

POS = ["great", "wonderful", "fantastic", "loved", "moving"]
NEG = ["awful", "boring", "terrible", "hated", "dull"]


def _reviews(path, n=100):
    rng = np.random.default_rng(0)
    rows = [["text", "label"]]
    for i in range(n):
        words = POS if i % 2 else NEG
        rows.append([" ".join(rng.choice(words, size=int(rng.integers(3, 9)))), "pos" if i % 2 else "neg"])
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def _history(run):
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_two_process_training_follows_the_single_process_run(tmp_path):
    data = _reviews(tmp_path / "reviews.csv")  # 80 training texts: 10 batches of 8, 4 rows per process
    args = ["train", "sentiment", "--data", str(data), "--epochs", "2", "--units", "8", "--embed-dim", "8"]
    args += ["--batch-size", "8", "--dropout", "0", "--threads", "1", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run(
        [sys.executable, "-m", "rnnkit.cli.main", *args, "--out", str(tmp_path / "one")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "rnnkit.cli.main", *args, "--out", str(tmp_path / "two")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one, two = _history(tmp_path / "one"), _history(tmp_path / "two")
    assert len(one) == len(two) == 2
    for a, b in zip(one, two, strict=True):
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert float(b[key]) == pytest.approx(float(a[key]), rel=1e-4, abs=1e-5), key
    assert float(one[1]["loss"]) < float(one[0]["loss"])
    # rank 0 alone printed the summary and wrote the run (one metrics.json, the same test figures)
    assert ddp.stdout.count("saved ") == 1
    m1 = json.loads((tmp_path / "one" / "metrics.json").read_text())
    m2 = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert m2["test_accuracy"] == pytest.approx(m1["test_accuracy"])
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )
