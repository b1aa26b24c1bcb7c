"""The long-memory task generators produce their documented distributions; small T learns."""

from __future__ import annotations

import json
import math

import pytest
import torch

from rnnkit.errors import ConfigError
from rnnkit.tasks.memory import (
    adding_baseline,
    adding_batch,
    build_model,
    check_cells,
    check_init,
    check_length,
    check_lengths,
    copy_baseline,
    copy_batch,
    run_memory_benchmark,
    task_loss,
    train_steps,
)
from rnnkit.tasks.memory_results import plot_memory_results


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: a second thread only adds synchronization, which on a shared 2-core machine
    under load costs more than the work (the exploding demo ran 25x slower with 2 threads)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_adding_batch_layout():
    x, y = adding_batch(500, 21, generator=_gen())
    assert x.shape == (500, 21, 2) and y.shape == (500, 1)
    values, markers = x[..., 0], x[..., 1]
    assert float(values.min()) >= 0.0 and float(values.max()) < 1.0
    assert set(markers.unique().tolist()) == {0.0, 1.0}
    assert (markers.sum(dim=1) == 2).all()
    pos = markers.nonzero()[:, 1].reshape(500, 2)  # (B, 2) marker positions, sorted
    assert (pos[:, 0] < 10).all() and (pos[:, 1] >= 10).all()  # one per half (T // 2 = 10)
    torch.testing.assert_close(y[:, 0], (values * markers).sum(dim=1))


def test_adding_distribution_and_baseline_on_a_large_sample():
    x, y = adding_batch(40_000, 10, generator=_gen(1))
    assert float(x[..., 0].mean()) == pytest.approx(0.5, abs=0.005)
    assert float(y.mean()) == pytest.approx(1.0, abs=0.01)
    # predicting the mean: MSE = Var(a + b) = 2/12
    assert float(((y - 1.0) ** 2).mean()) == pytest.approx(adding_baseline(), abs=0.004)
    assert adding_baseline() == pytest.approx(1 / 6)
    # the marker positions are uniform within each half
    counts = torch.bincount(x[..., 1].nonzero()[:, 1], minlength=10).float()
    assert float(counts.min()) > 0.9 * float(counts.mean())


def test_copy_batch_layout():
    T = 7
    x, y = copy_batch(64, T, generator=_gen())
    assert x.shape == (64, T + 20, 10) and y.shape == (64, T + 20)
    assert (x.sum(dim=-1) == 1).all()  # one-hot
    ids = x.argmax(dim=-1)
    symbols = ids[:, :10]
    assert int(symbols.min()) >= 1 and int(symbols.max()) <= 8
    assert (ids[:, 10 : T + 9] == 0).all()  # T - 1 blanks
    assert (ids[:, T + 9] == 9).all()  # the delimiter
    assert (ids[:, T + 10 :] == 0).all()
    assert (y[:, : T + 10] == 0).all()
    assert torch.equal(y[:, -10:], symbols)


def test_copy_symbols_are_uniform_and_the_baseline_is_the_memoryless_loss():
    T = 30
    _, y = copy_batch(4000, T, generator=_gen(2))
    counts = torch.bincount(y[:, -10:].reshape(-1), minlength=9)[1:].float()
    assert float(counts.min()) > 0.95 * float(counts.mean())
    # memoryless strategy: blank for sure first, then uniform over the 8 symbols
    logits = torch.full((4000, T + 20, 10), -1e9)
    logits[:, : T + 10, 0] = 0.0
    logits[:, T + 10 :, 1:9] = 0.0
    assert float(task_loss("copy", logits, y)) == pytest.approx(copy_baseline(T), rel=1e-6)
    assert copy_baseline(T) == pytest.approx(10 * math.log(8) / (T + 20))


def test_generators_are_seeded():
    for batch in (adding_batch, copy_batch):
        a = batch(8, 12, generator=_gen(3))
        b = batch(8, 12, generator=_gen(3))
        c = batch(8, 12, generator=_gen(4))
        assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
        assert not torch.equal(a[0], c[0])


def test_build_model_shapes_and_seed():
    x, _ = copy_batch(2, 5, generator=_gen())
    assert build_model("gru", 8, task="copy")(x).shape == (2, 25, 10)
    x, _ = adding_batch(2, 5, generator=_gen())
    a, b = build_model("lstm", 8, seed=1), build_model("lstm", 8, seed=1)
    torch.testing.assert_close(a(x), b(x))
    assert a(x).shape == (2, 1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: check_cells([]),
            "cells=[] is not valid: expected a non-empty list of 'simple', 'lstm', 'gru'.",
        ),
        (
            lambda: check_cells(["lstm", "rnn"]),
            "cell='rnn' is not valid: expected one of 'simple', 'lstm', 'gru'.",
        ),
        (lambda: check_length(1), "length=1 is not valid: expected an integer >= 2."),
        (lambda: check_lengths([]), "lengths=[] is not valid: expected a non-empty list of integers >= 2."),
        (
            lambda: check_init("he"),
            "init='he' is not valid: expected one of 'orthogonal', 'identity', 'glorot'.",
        ),
        (lambda: adding_batch(0, 5), "batch_size=0 is not valid: expected a positive integer."),
        (
            lambda: build_model("lstm", 8, task="sort"),
            "task='sort' is not valid: expected one of 'adding', 'copy'.",
        ),
    ],
)
def test_bad_arguments_name_the_value(call, message):
    with pytest.raises(ConfigError) as info:
        call()
    assert str(info.value) == message


def test_lstm_learns_the_adding_problem_at_small_T():
    """T = 10: well below the 0.167 baseline within 300 steps (about 5 s on one core)."""
    model = build_model("lstm", 16, seed=0)
    fit = train_steps(
        model, "adding", 10, 300, batch_size=32, learning_rate=1e-2, eval_size=256, eval_every=100
    )
    assert fit.steps == 300
    assert fit.final_loss < 0.2 * adding_baseline(), fit.curve


def test_benchmark_rows_json_and_plot(tmp_path):
    seen = []
    res = run_memory_benchmark("copy", ["simple", "gru"], [3], 2, units=4, batch_size=4, eval_size=8,
                               on_row=lambda r: seen.append(len(r.rows)))  # fmt: skip
    assert seen == [1, 2]
    assert [(r.cell, r.length, r.steps) for r in res.rows] == [("simple", 3, 2), ("gru", 3, 2)]
    assert res.rows[0].baseline == pytest.approx(copy_baseline(3))
    data = json.loads(json.dumps(res.to_dict()))
    assert data["metric"] == "cross_entropy" and data["rows"][1]["ratio_to_baseline"] > 0
    assert plot_memory_results(res, tmp_path / "copy.png").stat().st_size > 1000


def test_training_stops_once_solved():
    model = build_model("lstm", 4, seed=0)
    fit = train_steps(model, "adding", 4, 50, batch_size=4, eval_size=8, eval_every=5, stop_below=10.0)
    assert fit.steps == 5 and len(fit.curve) == 1


def test_training_stops_at_the_time_budget_with_a_final_evaluation():
    model = build_model("gru", 4, task="copy", seed=0)
    fit = train_steps(model, "copy", 3, 50, batch_size=4, eval_size=8, eval_every=100, max_seconds=0.0)
    assert fit.steps == 1 and fit.curve == [(1, fit.final_loss)]
