"""Train a translation model into a run directory: ``train(config, options) -> metrics``.

The run directory holds, beside the common files, the two subword tokenizers
(``tokenizer-source.json``, ``tokenizer-target.json``); ``metrics.json`` has sacrebleu's
BLEU and chrF on the validation and test splits, with the library's signatures.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from rnnkit.data import load_tokenizer
from rnnkit.models import optimizers
from rnnkit.models.callbacks import Callback
from rnnkit.tasks import runs
from rnnkit.tasks.translation.config import TranslationConfig
from rnnkit.tasks.translation.data import PairBatches, PairSplits, encode_pairs, load_pairs, make_tokenizers
from rnnkit.tasks.translation.model import build_model
from rnnkit.tasks.translation.predictor import SOURCE_TOKENIZER, TARGET_TOKENIZER, TASK, Translator

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


class TimeBudget(Callback):
    """Stops training after ``minutes`` (checked after every batch): a fixed compute budget,
    in wall time or in this process's CPU time (``clock="cpu"``: on a shared machine, two runs
    given the same CPU budget did the same work whatever else was running)."""

    def __init__(self, minutes: float, clock: str = "wall") -> None:
        super().__init__()
        self.seconds = minutes * 60.0
        self.clock = CLOCKS[clock]
        self.t0 = self.clock()
        self.stopped_at: tuple[int, int] | None = None
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.clock() - self.t0 > self.seconds:
            self.model.stop_training = True
            self.stopped_at = (self.epoch, batch + 1)


class LinearDecay(Callback):
    """The learning rate holds, then falls linearly to 0 over the last ``fraction`` of the run.

    Progress is the share of the time budget spent (``minutes``), else the share of the
    batches (``total_steps``): a run cut by its budget ends at lr 0 instead of mid-plateau,
    the cheap gain of a "warm-down" (hold-then-decay) schedule when the budget is fixed.
    With ``steps_per_epoch`` the batch count starts at the epoch ``fit`` starts from, so a
    resumed run continues the schedule instead of climbing back to ``base_lr``.
    """

    def __init__(
        self,
        base_lr: float,
        fraction: float,
        *,
        minutes: float | None,
        total_steps: int,
        steps_per_epoch: int | None = None,
        clock: str = "wall",
    ) -> None:
        super().__init__()
        self.base_lr, self.fraction = base_lr, fraction
        self.seconds = None if minutes is None else minutes * 60.0
        self.total_steps = max(1, total_steps)
        self.steps_per_epoch = steps_per_epoch
        self.step = 0
        self.clock = CLOCKS[clock]
        self.t0 = self.clock()

    def progress(self) -> float:
        if self.seconds is not None:
            return min(1.0, (self.clock() - self.t0) / self.seconds)
        return min(1.0, self.step / self.total_steps)

    def factor(self) -> float:
        return min(1.0, (1.0 - self.progress()) / self.fraction)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.steps_per_epoch is not None:
            self.step = epoch * self.steps_per_epoch

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.model.optimizer.lr = self.base_lr * self.factor()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.step += 1


def train(config: TranslationConfig, options: runs.TrainOptions) -> dict[str, Any]:
    """Train on ``config.data`` into ``options.out``; returns the metrics written to metrics.json."""
    return train_on(config, options, load_pairs(config))


def train_on(
    config: TranslationConfig,
    options: runs.TrainOptions,
    data: PairSplits,
    callbacks: Sequence[Callback] = (),
    score_splits: bool = True,
) -> dict[str, Any]:
    """:func:`train` on splits already loaded (a benchmark may pass its own, and callbacks;
    ``score_splits=False`` leaves BLEU/chrF out of metrics.json for a caller that scores itself)."""
    torch.manual_seed(config.seed)
    options.apply_threads()
    if config.threads:
        torch.set_num_threads(config.threads)
    run = runs.start_run(options, TASK, config, data=runs.fingerprint(config.data))
    src_path, tgt_path = run.file(SOURCE_TOKENIZER), run.file(TARGET_TOKENIZER)
    if run.resuming and src_path.exists() and tgt_path.exists():
        # the checkpoint's embedding rows belong to these tokenizers: never refit them on resume
        src_tok, tgt_tok = load_tokenizer(src_path), load_tokenizer(tgt_path)
    else:
        src_tok, tgt_tok = make_tokenizers(data.train, config.src_vocab, config.tgt_vocab)
        if run.is_writer:
            src_tok.save(src_path)
            tgt_tok.save(tgt_path)
    lim = (config.max_src_len, config.max_tgt_len)
    tr_src, tr_tgt = encode_pairs(src_tok, tgt_tok, data.train, *lim)  # type: ignore[arg-type]
    va_src, va_tgt = encode_pairs(src_tok, tgt_tok, data.validation, *lim)  # type: ignore[arg-type]
    train_batches = PairBatches(
        tr_src, tr_tgt, config.batch_size, shuffle=True, seed=config.seed, max_steps=config.max_steps
    )
    val_batches = PairBatches(va_src, va_tgt, 64, shuffle=False)
    model = build_model(config, src_tok.vocab_size, tgt_tok.vocab_size)
    model.compile(
        optimizer=optimizers.Adam(learning_rate=config.learning_rate, clipnorm=config.clipnorm),
        mixed_precision=config.mixed_precision,
    )
    budget = TimeBudget(config.max_minutes, config.budget_clock) if config.max_minutes else None
    cbs = [*callbacks, *([budget] if budget else [])]
    if config.lr_decay > 0:
        # by time, the schedule is per session like the time budget (a resumed run starts both
        # again); by batches, it continues from the epoch the checkpoint resumes at
        decay = LinearDecay(
            config.learning_rate,
            config.lr_decay,
            minutes=config.max_minutes,
            total_steps=len(train_batches) * config.epochs,
            steps_per_epoch=len(train_batches),
            clock=config.budget_clock,
        )
        cbs.append(decay)
    cpu0 = time.process_time()  # on a shared machine the CPU time is the honest measure of work
    start, seconds = runs.fit_in_run(
        model, run, train_batches, val_batches, epochs=config.epochs, callbacks=cbs
    )
    cpu = time.process_time() - cpu0
    if run.is_writer:
        model.save(run.model_path)
    translator = Translator(model, src_tok, tgt_tok, config)  # type: ignore[arg-type]
    metrics: dict[str, Any] = {
        "task": TASK,
        "data": data.source,
        "pairs": {"train": len(data.train), "validation": len(data.validation), "test": len(data.test)},
        "train_pairs_used": len(tr_src),
        "epochs": config.epochs,
        "resumed_from_epoch": start,
        "stopped_by_time_budget": None
        if budget is None or budget.stopped_at is None
        else {"epoch": budget.stopped_at[0] + 1, "batch": budget.stopped_at[1]},
        "train_seconds_this_session": round(seconds, 1),
        "train_cpu_seconds_this_session": round(cpu, 1),
        "parameters": model.count_params(),
        "kernels": sorted({str(k.name) for k in model.kernels().values()}),
    }
    for split in ("validation", "test") if score_splits else ():
        pairs = getattr(data, split)
        if config.max_eval is not None:
            pairs = pairs[: config.max_eval]
        if pairs:
            metrics[split] = translator.score(pairs)
    run.write_json(runs.METRICS_FILE, metrics)
    return metrics
