"""Long-memory benchmarks: the adding problem and the copy-memory task.

Both tasks put the information the model needs at the *start* of a sequence of
length T and ask for it at the *end*, so solving them needs the gradient of the
final loss to reach back T steps (see ``docs/vanishing-gradients.md``).

Adding problem (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015 and
Arjovsky et al. 2016). Shapes: x (B, T, 2), y (B, 1)::

    x[:, t, 0] = v_t ~ U(0, 1)            i.i.d. values
    x[:, t, 1] = m_t in {0, 1}            exactly two markers:
                 one at i ~ U{0, ..., T//2 - 1}, one at j ~ U{T//2, ..., T - 1}
    y          = v_i + v_j

Predicting the mean E[y] = 1 always gives MSE Var(v_i + v_j) = 2/12 = 1/6 ~ 0.167:
the baseline a model that remembers nothing reaches.

Copy memory (Bai et al. 2018, "An Empirical Evaluation of Generic Convolutional
and Recurrent Networks"). Alphabet 0..9: 0 = blank, 1..8 = symbols, 9 = delimiter.
Shapes: x (B, T + 20, 10) one-hot, y (B, T + 20) class ids::

    input : s_1 .. s_10  0 ... 0 (T - 1 blanks)  9  0 ... 0 (10 blanks)
    target: 0 ... 0 (T + 10 blanks)                 s_1 .. s_10
    s_k ~ U{1, ..., 8} i.i.d.

A memoryless model predicts blank for the first T + 10 steps (loss 0) and a
uniform guess over the 8 symbols for the last 10: mean cross-entropy per step
10 ln 8 / (T + 20).

Training goes through one small function, :func:`train_steps`: fresh batches
every step (the tasks are infinite), Adam, gradient clipping by global norm.
It stands in for ``Sequential.compile(...).fit(...)`` while ``rnnkit.models``
is being written; swap it then.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit import layers
from rnnkit.errors import ConfigError, invalid
from rnnkit.labs.names import (  # noqa: F401 (re-exported: the names and checks the CLI shares)
    CELL_NAMES,
    INITS,
    MIN_LENGTH,
    TASKS,
    check_cells,
    check_init,
    check_length,
    check_lengths,
    check_task,
)

logger = logging.getLogger(__name__)

Tensor = torch.Tensor

CELLS: dict[str, Callable[..., layers.RNN]] = dict(
    zip(CELL_NAMES, (layers.SimpleRNN, layers.LSTM, layers.GRU), strict=True)
)
COPY_SYMBOLS = 8  # symbols 1..8
COPY_LENGTH = 10  # how many symbols to remember
COPY_CLASSES = COPY_SYMBOLS + 2  # + blank (0) and delimiter (9)


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(invalid(name, value, "a positive integer"))
    return value


# ---------------------------------------------------------------- generators
def adding_batch(
    batch_size: int, length: int, *, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """A batch of the adding problem: x (B, T, 2) = [values, markers], y (B, 1) = the marked sum."""
    B, T = _check_positive("batch_size", batch_size), check_length(length)
    values = torch.rand(B, T, generator=generator)  # (B, T) ~ U(0, 1)
    first = torch.randint(0, T // 2, (B,), generator=generator)  # in the first half
    second = torch.randint(T // 2, T, (B,), generator=generator)  # in the second half
    markers = torch.zeros(B, T)
    rows = torch.arange(B)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = torch.stack([values, markers], dim=-1)  # (B, T, 2)
    y = (values * markers).sum(dim=1, keepdim=True)  # (B, 1)
    return x, y


def adding_baseline(length: int | None = None) -> float:
    """MSE of always predicting E[y] = 1: Var(U(0,1) + U(0,1)) = 1/6, for every T."""
    return 1.0 / 6.0


def copy_batch(
    batch_size: int, length: int, *, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """A batch of the copy-memory task with T blanks: x (B, T + 20, 10) one-hot, y (B, T + 20) class ids."""
    B, T = _check_positive("batch_size", batch_size), check_length(length)
    n = COPY_LENGTH
    symbols = torch.randint(1, COPY_SYMBOLS + 1, (B, n), generator=generator)  # (B, 10) in 1..8
    ids = torch.zeros(B, T + 2 * n, dtype=torch.long)  # (B, T + 20), blank everywhere
    ids[:, :n] = symbols
    ids[:, T + n - 1] = COPY_CLASSES - 1  # the delimiter, 10 steps before the end
    y = torch.zeros(B, T + 2 * n, dtype=torch.long)
    y[:, -n:] = symbols
    x = F.one_hot(ids, COPY_CLASSES).float()  # (B, T + 20, 10)
    return x, y


def copy_baseline(length: int) -> float:
    """Mean cross-entropy per step of the memoryless strategy: 10 ln 8 / (T + 20)."""
    return COPY_LENGTH * math.log(COPY_SYMBOLS) / (check_length(length) + 2 * COPY_LENGTH)


@dataclass(frozen=True)
class TaskSpec:
    """What a task needs from the model and how it is scored."""

    name: str
    input_dim: int
    output_dim: int
    batch: Callable[..., tuple[Tensor, Tensor]]
    baseline: Callable[[int], float]
    metric: str  # "mse" or "cross_entropy"


TASK_SPECS = {
    "adding": TaskSpec("adding", 2, 1, adding_batch, adding_baseline, "mse"),
    "copy": TaskSpec("copy", COPY_CLASSES, COPY_CLASSES, copy_batch, copy_baseline, "cross_entropy"),
}


def task_loss(task: str, y_pred: Tensor, y: Tensor) -> Tensor:
    """MSE for adding; mean cross-entropy over every step and sample for copy."""
    if TASK_SPECS[check_task(task)].metric == "mse":
        return F.mse_loss(y_pred, y)
    return F.cross_entropy(y_pred.reshape(-1, y_pred.shape[-1]), y.reshape(-1))  # (B*T, C) vs (B*T,)


# --------------------------------------------------------------------- model
def build_model(
    cell: str,
    units: int,
    *,
    task: str = "adding",
    recurrent_initializer: Any = "orthogonal",
    seed: int = 0,
) -> nn.Sequential:
    """RNN(units) -> Dense: the last output for adding (B, 1), every step for copy (B, T + 20, 10).

    Weights are built now (from ``seed``, without touching the global RNG) so an
    optimizer can be made from ``parameters()`` straight away.
    """
    name = check_cells([cell])[0]
    spec = TASK_SPECS[check_task(task)]
    units = _check_positive("units", units)
    init = check_init(recurrent_initializer) if recurrent_initializer in INITS else recurrent_initializer
    rnn = CELLS[name](units, recurrent_initializer=init, return_sequences=spec.name == "copy")
    model = nn.Sequential(rnn, layers.Dense(spec.output_dim))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model(torch.zeros(1, MIN_LENGTH, spec.input_dim))  # builds the weights
    return model


# ------------------------------------------------------------------ training
@dataclass
class TrainResult:
    """What :func:`train_steps` did: losses every ``eval_every`` steps and the final one."""

    steps: int  # steps actually run (fewer than asked if ``stop_below`` was reached)
    final_loss: float  # on the held-out evaluation batch
    seconds: float
    curve: list[tuple[int, float]] = field(default_factory=list)  # (step, held-out loss)


def evaluate(model: nn.Module, task: str, x: Tensor, y: Tensor, batch_size: int = 500) -> float:
    """Mean loss over (x, y), in chunks (a long sequence times a big batch is a lot of memory)."""
    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            total += task_loss(task, model(xb), yb).item() * len(xb)
    model.train(was_training)
    return total / len(x)


def train_steps(
    model: nn.Module,
    task: str,
    length: int,
    steps: int,
    *,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    clipnorm: float | None = 1.0,
    seed: int = 0,
    eval_size: int = 1000,
    eval_every: int = 100,
    stop_below: float | None = None,
    max_seconds: float | None = None,
    on_eval: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Adam on fresh batches for ``steps`` steps; the held-out loss every ``eval_every`` steps.

    The one training function of the lab (swap for ``Sequential.fit`` when it lands).
    ``stop_below``: stop once the held-out loss is below it (solved; saves CPU time).
    ``max_seconds``: stop (after a final evaluation) once training has taken this long;
    ``TrainResult.steps`` says how many steps were run.
    """
    spec = TASK_SPECS[check_task(task)]
    steps = _check_positive("steps", steps)
    gen = torch.Generator().manual_seed(seed)
    x_eval, y_eval = spec.batch(eval_size, length, generator=torch.Generator().manual_seed(seed + 10_000))
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate)
    curve: list[tuple[int, float]] = []
    start = time.perf_counter()
    done = 0
    model.train()
    for step in range(1, steps + 1):
        x, y = spec.batch(batch_size, length, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss = task_loss(task, model(x), y)
        loss.backward()
        if clipnorm is not None:
            # RNN gradients can explode when W_hh's spectral radius is > 1 (Pascanu et al. 2013):
            # rescaling the global norm keeps one bad batch from throwing the weights away.
            torch.nn.utils.clip_grad_norm_(model.parameters(), clipnorm)
        opt.step()
        done = step
        out_of_time = max_seconds is not None and time.perf_counter() - start > max_seconds
        if step % eval_every == 0 or step == steps or out_of_time:
            value = evaluate(model, task, x_eval, y_eval)
            curve.append((step, value))
            if on_eval is not None:
                on_eval(step, value)
            if out_of_time or not math.isfinite(value) or (stop_below is not None and value < stop_below):
                break
    final = curve[-1][1]
    return TrainResult(done, final, time.perf_counter() - start, curve)


# ----------------------------------------------------------------- benchmark
@dataclass
class MemoryRow:
    cell: str
    length: int
    final_loss: float
    baseline: float
    steps: int
    seconds: float
    curve: list[tuple[int, float]]

    @property
    def ratio_to_baseline(self) -> float:
        return self.final_loss / self.baseline


@dataclass
class MemoryResults:
    """One row per (cell, T); ``to_dict()`` is the JSON written by ``rnnkit bench memory``."""

    task: str
    metric: str
    config: dict[str, Any]
    rows: list[MemoryRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        rows = [{**asdict(r), "ratio_to_baseline": r.ratio_to_baseline} for r in self.rows]
        return {"task": self.task, "metric": self.metric, "config": self.config, "rows": rows}

    def table(self) -> list[dict[str, Any]]:
        """Rows for printing: cell, T, final loss, baseline, loss/baseline, steps, seconds."""
        return [
            {
                "cell": r.cell,
                "T": r.length,
                self.metric: r.final_loss,
                "baseline": r.baseline,
                "loss/baseline": r.ratio_to_baseline,
                "steps": r.steps,
                "seconds": r.seconds,
            }
            for r in self.rows
        ]


def run_memory_benchmark(
    task: str,
    cells: Sequence[str],
    lengths: Sequence[int],
    steps: int,
    *,
    units: int = 64,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    clipnorm: float | None = 1.0,
    seed: int = 0,
    eval_size: int = 1000,
    eval_every: int = 100,
    stop_below: float | None = None,
    max_seconds: float | None = None,
    on_row: Callable[[MemoryResults], None] | None = None,
    on_eval: Callable[[str, int, int, float], None] | None = None,
) -> MemoryResults:
    """Train each cell at each length for (at most) ``steps`` steps; the final held-out loss per (cell, T).

    ``on_row`` is called with the results so far after each (cell, T), so a long
    run can save partial results as it goes; ``on_eval(cell, T, step, loss)`` after
    every held-out evaluation, to watch a long run.
    """
    spec = TASK_SPECS[check_task(task)]
    names = check_cells(cells)
    ts = check_lengths(lengths)
    config = {
        "cells": names,
        "lengths": ts,
        "steps": steps,
        "units": units,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "clipnorm": clipnorm,
        "optimizer": "adam",
        "seed": seed,
        "eval_size": eval_size,
        "stop_below": stop_below,
        "max_seconds": max_seconds,
    }
    results = MemoryResults(task, spec.metric, config)
    for T in ts:
        for name in names:
            model = build_model(name, units, task=task, seed=seed)
            fit = train_steps(
                model,
                task,
                T,
                steps,
                batch_size=batch_size,
                learning_rate=learning_rate,
                clipnorm=clipnorm,
                seed=seed,
                eval_size=eval_size,
                eval_every=eval_every,
                stop_below=stop_below,
                max_seconds=max_seconds,
                on_eval=None if on_eval is None else functools.partial(on_eval, name, T),
            )
            row = MemoryRow(name, T, fit.final_loss, spec.baseline(T), fit.steps, fit.seconds, fit.curve)
            logger.info("%s %s T=%d: %s %.4g (baseline %.4g) after %d steps", task, name, T, spec.metric,
                        row.final_loss, row.baseline, row.steps)  # fmt: skip
            results.rows.append(row)
            if on_row is not None:
                on_row(results)
    return results
