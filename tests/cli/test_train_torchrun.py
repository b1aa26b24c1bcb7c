"""`rnnkit train` under `torchrun --nproc_per_node 2` (gloo, CPU) follows the single-process
run: each process trains on its shard of every batch, rank 0 alone writes, a killed job resumes.

The two data paths: sentiment hands fit_in_run batches (tasks.runs.ShardedBatches cuts them),
forecast hands it arrays (fit's ArrayData cuts each global batch)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date, timedelta

import numpy as np
import pytest
import torch

from rnnkit.models.data import ArrayData
from rnnkit.models.tbptt import TBPTT
from rnnkit.tasks.runs import ShardedBatches

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


def _ddp(args, out, env):
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "rnnkit.cli.main", *args, "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


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


def _series(path, n=200):
    t = np.arange(n)
    days = [(date(2021, 3, 1) + timedelta(days=int(i))).isoformat() for i in t]
    load = 50 + 5 * np.sin(2 * np.pi * t / 7) + np.random.default_rng(0).normal(0, 0.5, n)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([["day", "load"], *zip(days, load.round(4), strict=True)])
    return path


@pytest.mark.slow
def test_two_process_forecast_follows_the_single_process_run_and_resumes(tmp_path):
    """Arrays this time (fit shards them); the 2-process job is stopped after epoch 1 and resumed."""
    data = _series(tmp_path / "load.csv")
    args = ["train", "forecast", "--data", str(data), "--date-column", "day", "--target", "load"]
    args += ["--horizon", "3", "--lookback", "14", "--units", "8", "--batch-size", "64"]
    args += ["--baselines", "naive", "--threads", "1", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run(
        [sys.executable, "-m", "rnnkit.cli.main", *args, "--epochs", "2", "--out", str(tmp_path / "one")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    first = _ddp([*args, "--epochs", "1"], tmp_path / "two", env)  # the job "killed" after epoch 1
    assert first.returncode == 0, first.stderr[-3000:]
    one, two = _history(tmp_path / "one"), _history(tmp_path / "two")
    for key in ("loss", "val_loss"):
        assert float(two[0][key]) == pytest.approx(float(one[0][key]), rel=1e-4, abs=1e-5), key
    # A resumed job appends to history.csv; one that started over would rewrite this mark.
    history = tmp_path / "two" / "history.csv"
    history.write_text(history.read_text().replace(two[0]["loss"], "123.0"))
    resumed = _ddp([*args, "--epochs", "2"], tmp_path / "two", env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    two = _history(tmp_path / "two")
    assert [r["epoch"] for r in two] == ["0", "1"] and two[0]["loss"] == "123.0"
    for key in ("loss", "val_loss"):
        assert float(two[1][key]) == pytest.approx(float(one[1][key]), rel=1e-4, abs=1e-5), key
    assert resumed.stdout.count("saved ") == 1
    m1 = json.loads((tmp_path / "one" / "metrics.json").read_text())
    m2 = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert m2["test_mae"] == pytest.approx(m1["test_mae"], rel=1e-3)


def test_a_batch_smaller_than_the_process_count_is_skipped_on_every_process():
    """A process left with no rows would hang the others in the gradient all-reduce."""
    data = ArrayData(torch.arange(10.0).reshape(5, 2), torch.arange(5.0))
    shards = [[b[0][:, 0].tolist() for b in data.batches(4, rank=r, world=2)] for r in (0, 1)]
    assert shards == [[[0.0, 4.0]], [[2.0, 6.0]]]  # rows 0, 2 | 1, 3 of the first batch; row 4 alone: skipped
    assert data.num_batches(4, world=2) == 1 and data.num_batches(4) == 2
    three = [[len(b[0]) for b in data.batches(3, rank=r, world=2)] for r in (0, 1)]
    assert three == [[2, 1], [1, 1]]  # a last batch of 2 rows still has one per process


class _Resets:
    def __init__(self):
        self.calls = []

    def reset_states(self, indices=None):
        self.calls.append(indices)


def test_a_tbptt_stream_reset_reaches_the_process_holding_that_stream():
    """Streams 1, 2 and 3 restart at chunk 1: under 2 processes, rank 0 holds stream 2 as its row 1,
    rank 1 holds streams 1 and 3 as its rows 0 and 1."""
    data = TBPTT(
        torch.zeros(4, 4, dtype=torch.long), torch.zeros(4, 4, dtype=torch.long), 2, resets={1: [1, 2, 3]}
    )
    seen = []
    for rank in (0, 1):
        shard, model = ShardedBatches(data, rank, 2), _Resets()
        for step, batch in enumerate(shard):
            assert batch[0].shape == (2, 2)  # (B / N, k)
            shard.on_batch_begin(model, step)
        seen.append(model.calls)
    assert seen == [[[1]], [[0, 1]]]


STOP_ON_ONE_RANK = """
import numpy as np
import torch
from rnnkit import Sequential, callbacks, layers, set_seed
from rnnkit.models import distributed

class StopOnRankOne(callbacks.Callback):  # as a time limit might: one process's clock runs out
    def on_epoch_end(self, epoch, logs=None):
        if distributed.rank() == 1:
            self.model.stop_training = True

torch.set_num_threads(1)
set_seed(0)
x = np.random.default_rng(0).normal(size=(32, 4, 2)).astype("float32")
model = Sequential([layers.LSTM(4), layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
h = model.fit(x, x[:, 0, :1], epochs=3, batch_size=8, verbose=0, callbacks=[StopOnRankOne()])
print(f"rank {distributed.rank()}: {len(h.history['loss'])} epochs")
distributed.cleanup()
"""


@pytest.mark.slow
def test_a_callback_stopping_one_process_stops_them_all(tmp_path):
    """Without agreeing, the other process would start epoch 2 and wait for gradients forever."""
    script = tmp_path / "stop.py"
    script.write_text(STOP_ON_ONE_RANK)
    out = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert sorted(line for line in out.stdout.splitlines() if line.startswith("rank")) == [
        "rank 0: 1 epochs",
        "rank 1: 1 epochs",
    ]
