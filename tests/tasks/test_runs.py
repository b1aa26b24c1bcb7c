"""rnnkit.tasks.runs: the run directory every task writes (create, refuse a mismatched resume,
--overwrite, fingerprints, rank-0 writes, batch shards) and forecasting's kill-and-resume."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.tasks import runs
from rnnkit.tasks.language_model import LMConfig
from rnnkit.tasks.sentiment import SentimentConfig


def test_start_run_writes_run_json_with_task_config_and_data(tmp_path):
    data = tmp_path / "corpus.txt"
    data.write_text("hello\n")
    cfg = LMConfig(data=str(data))
    run = runs.start_run(runs.TrainOptions(tmp_path / "run"), "lm", cfg, data=runs.fingerprint(data))
    meta = json.loads((tmp_path / "run" / runs.RUN_FILE).read_text())
    assert meta["format"] == runs.FORMAT and meta["task"] == "lm"
    assert meta["config"] == cfg.to_dict()
    assert meta["data"]["fingerprint"].startswith("sha256:")
    assert not run.resuming
    opened = runs.open_run(tmp_path / "run", "lm")
    assert (opened.task, opened.config, opened.data) == ("lm", cfg.to_dict(), meta["data"])


def test_a_resume_with_another_config_is_refused_naming_the_keys(tmp_path):
    out = tmp_path / "run"
    runs.start_run(runs.TrainOptions(out), "lm", LMConfig(data="c.txt"))
    # epochs may grow on a resume: not a difference
    runs.start_run(runs.TrainOptions(out), "lm", LMConfig(data="c.txt", epochs=9))
    with pytest.raises(ConfigError) as err:
        runs.start_run(runs.TrainOptions(out), "lm", LMConfig(data="c.txt", level="char", units=8))
    assert str(err.value) == (
        f"{str(out)!r} holds a run with a different level ('word' there, 'char' now), units (256 there, "
        "8 now): choose another --out, or add --overwrite to start it over."
    )
    with pytest.raises(
        ConfigError, match=r"holds a run with a different task \('lm' there, 'sentiment' now\)"
    ):
        runs.start_run(runs.TrainOptions(out), "sentiment", SentimentConfig())


def test_a_resume_on_other_data_is_refused(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("text,label\nx,1\n")
    b.write_text("text,label\ny,0\n")
    out = tmp_path / "run"
    cfg = SentimentConfig(data=str(a))
    runs.start_run(runs.TrainOptions(out), "sentiment", cfg, data=runs.fingerprint(a))
    a.write_text(b.read_text())  # same path, other contents
    with pytest.raises(
        ConfigError, match=r"different data \('.*a\.csv' there, '.*a\.csv' now, other contents\)"
    ):
        runs.start_run(runs.TrainOptions(out), "sentiment", cfg, data=runs.fingerprint(a))


def test_overwrite_starts_over_and_resume_needs_a_checkpoint(tmp_path):
    out = tmp_path / "run"
    runs.start_run(runs.TrainOptions(out), "lm", LMConfig())
    (out / runs.CHECKPOINT_FILE).write_bytes(b"old")
    (out / "keep").mkdir()
    run = runs.start_run(runs.TrainOptions(out, overwrite=True), "lm", LMConfig(level="char"))
    assert not (out / runs.CHECKPOINT_FILE).exists() and (out / "keep").is_dir()
    assert run.config["level"] == "char" and not run.resuming
    with pytest.raises(
        CheckpointError, match=r"cannot resume: .* has no checkpoint \(checkpoint\.safetensors\)\.$"
    ):
        runs.start_run(runs.TrainOptions(out, resume=True), "lm", LMConfig(level="char"))
    with pytest.raises(CheckpointError, match=r"cannot resume: .* holds no run \(no run\.json\)\.$"):
        runs.start_run(runs.TrainOptions(tmp_path / "new", resume=True), "lm", LMConfig())
    with pytest.raises(ConfigError, match=r"--overwrite and --resume contradict"):
        runs.TrainOptions(out, overwrite=True, resume=True)


def test_options_fill_the_config_fields_they_name():
    options = runs.TrainOptions("x", epochs=3, seed=5, max_samples=100, threads=2)
    assert options.overrides(SentimentConfig) == {"epochs": 3, "seed": 5, "threads": 2, "max_samples": 100}
    # the LM stores --max-samples as its token cap
    assert options.overrides(LMConfig) == {"epochs": 3, "seed": 5, "threads": 2, "max_tokens": 100}
    with pytest.raises(ConfigError, match=r"^epochs=-1 is not valid"):
        runs.TrainOptions("x", epochs=-1)


def test_only_rank_zero_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "1")  # one process that calls itself rank 1: no barrier needed
    monkeypatch.setenv("RANK", "1")
    run = runs.start_run(runs.TrainOptions(tmp_path / "run"), "lm", LMConfig())
    run.write_json(runs.METRICS_FILE, {"x": 1})
    assert not run.is_writer
    assert not (tmp_path / "run" / runs.RUN_FILE).exists()
    assert not (tmp_path / "run" / runs.METRICS_FILE).exists()


def test_shards_are_disjoint_and_cover_each_batch():
    batches = [(torch.arange(10).reshape(5, 2), torch.arange(5)), (torch.zeros(1, 2), torch.zeros(1))]
    shards = [list(runs.ShardedBatches(batches, r, 2)) for r in range(2)]
    assert [len(s) for s in shards] == [1, 1]  # the 1-row batch is skipped on every process
    ys = sorted(int(v) for s in shards for v in s[0][1])
    assert ys == [0, 1, 2, 3, 4]
    assert torch.equal(shards[1][0][0], torch.tensor([[2, 3], [6, 7]]))


# ------------------------------------------------------------------ forecasting: kill and resume
def _series_csv(path, n=200):
    t = np.arange(n)
    y = 10 + 3 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 0.3, n)
    dates = np.datetime64("2020-01-01") + t.astype("timedelta64[D]")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["date", "y"])
        w.writerows(zip([str(d) for d in dates], y, strict=True))
    return path


class _Kill(Exception):  # noqa: N818 (a simulated SIGKILL, not an error)
    pass


def test_forecasting_resumes_after_a_kill_where_it_stopped(tmp_path):
    from rnnkit.models.callbacks import Callback
    from rnnkit.tasks.forecasting import ForecastConfig, Forecaster, load_data, resolve, train

    torch.set_num_threads(1)
    data = _series_csv(tmp_path / "s.csv")
    cfg = ForecastConfig(
        data=str(data),
        target="y",
        horizon=3,
        lookback=12,
        units=8,
        epochs=3,
        patience=10,
        baselines=["naive"],
    )

    class KillInEpoch3(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise _Kill  # as a kill -9 during epoch 3: the epoch-2 checkpoint is on disk

    out = tmp_path / "run"
    run = runs.start_run(runs.TrainOptions(out, quiet=True), "forecast", cfg, data=runs.fingerprint(data))
    series = load_data(cfg)
    with pytest.raises(_Kill):
        Forecaster(resolve(cfg, series)).fit(series, run=run, callbacks=[KillInEpoch3()])
    assert (out / runs.CHECKPOINT_FILE).exists() and not (out / runs.MODEL_FILE).exists()

    # The same command again resumes at epoch 3 ...
    _resumed, _ = train(cfg, options=runs.TrainOptions(out, quiet=True))
    rows = list(csv.DictReader((out / runs.HISTORY_FILE).read_text().splitlines()))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert (out / runs.MODEL_FILE).exists() and (out / "forecaster.json").exists()
    # ... and follows the uninterrupted run (weights, optimizer and RNG come back from the checkpoint).
    _whole, _ = train(cfg, options=runs.TrainOptions(tmp_path / "whole", quiet=True))
    whole_rows = list(csv.DictReader((tmp_path / "whole" / runs.HISTORY_FILE).read_text().splitlines()))
    assert float(rows[2]["loss"]) == pytest.approx(float(whole_rows[2]["loss"]), rel=1e-5)
    # A different horizon in the same directory is refused, naming it.
    with pytest.raises(ConfigError, match=r"different horizon \(3 there, 5 now\)"):
        train(cfg.replace(horizon=5), options=runs.TrainOptions(out, quiet=True))
