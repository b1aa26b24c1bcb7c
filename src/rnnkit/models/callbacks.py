"""Callbacks with Keras's names, arguments and hooks.

A callback gets ``set_model``/``set_params`` and then the hooks
``on_train_begin/end``, ``on_epoch_begin/end(epoch, logs)``,
``on_train_batch_begin/end(batch, logs)``, ``on_test_*`` and ``on_predict_*``.
``logs`` holds floats: ``loss``, the metrics, and at epoch end the ``val_`` ones.
Setting ``model.stop_training = True`` ends ``fit`` after the current epoch.

In a distributed run every process runs the callbacks (so they agree on when to
stop), but only rank 0 writes files: :class:`ModelCheckpoint`, :class:`CSVLogger`,
:class:`TensorBoard` and :class:`BackupAndRestore` check ``is_main_process()``.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.errors import ConfigError, MissingDependencyError, invalid
from rnnkit.models import distributed, progress
from rnnkit.models.saving import restore_training_state

Logs = dict[str, Any]
logger = logging.getLogger("rnnkit")


class Callback:
    """Base class: override the hooks you need."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Logs | None = None) -> None: ...
    def on_train_end(self, logs: Logs | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_test_begin(self, logs: Logs | None = None) -> None: ...
    def on_test_end(self, logs: Logs | None = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_predict_begin(self, logs: Logs | None = None) -> None: ...
    def on_predict_end(self, logs: Logs | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...


_HOOKS = [name for name in vars(Callback) if name.startswith("on_")]


class CallbackList:
    """Calls a hook on every callback, skipping callbacks that do not override it."""

    def __init__(self, callbacks: list[Callback], model: Any, params: dict[str, Any]) -> None:
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(invalid("callbacks", cb, "a list of rnnkit Callback objects"))
            cb.set_model(model)
            cb.set_params(params)
        self.callbacks = callbacks
        # Per hook, only the callbacks that override it: keeps the per-batch cost near zero.
        self._active = {
            hook: [
                getattr(cb, hook)
                for cb in callbacks
                if getattr(type(cb), hook) is not getattr(Callback, hook)
            ]
            for hook in _HOOKS
        }

    def wants(self, hook: str) -> bool:
        return bool(self._active[hook])

    def call(self, hook: str, *args: Any) -> None:
        for fn in self._active[hook]:
            fn(*args)


class History(Callback):
    """Records the epoch logs: ``history.history["loss"]`` etc. ``fit`` returns one."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


def _mode_op(mode: str, monitor: str) -> Callable[[float, float], bool]:
    if mode not in ("auto", "min", "max"):
        raise ConfigError(invalid("mode", mode, ["auto", "min", "max"]))
    if mode == "auto":
        # Keras: metrics that grow when better (accuracy, auc ...) are maximized
        name = monitor.removeprefix("val_")
        mode = "max" if any(k in name for k in ("acc", "auc", "precision", "recall", "f1")) else "min"
    return np.less if mode == "min" else np.greater


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``restore_best_weights=True`` puts back the weights of the best epoch when training ends.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.baseline, self.restore_best_weights = baseline, bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.monitor_op = _mode_op(mode, monitor)
        self.min_delta = abs(float(min_delta)) * (1 if self.monitor_op is np.greater else -1)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.monitor_op is np.less else -math.inf
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.best_epoch = 0

    def _improved(self, current: float, reference: float) -> bool:
        return bool(self.monitor_op(current - self.min_delta, reference))

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        current = (logs or {}).get(self.monitor)
        if current is None:
            logger.warning(
                "EarlyStopping: %r is not in the logs (available: %s)", self.monitor, sorted(logs or {})
            )
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = _copy_state(self.model)
        self.wait += 1
        if self._improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = _copy_state(self.model)
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            _say(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _say(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)


def _copy_state(model: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _say(line: str) -> None:
    if distributed.is_main_process():
        progress.write(line)


class ModelCheckpoint(Callback):
    """Save the model (or its weights) every epoch, or only when ``monitor`` improves.

    ``filepath`` may hold ``{epoch:02d}`` and any log key, e.g.
    ``"ckpt-{epoch:02d}-{val_loss:.3f}.safetensors"``.
    Full saves hold the optimizer state and the epoch, so ``load_model`` + ``fit(initial_epoch=...)`` resumes.
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__()
        if save_freq != "epoch" and (not isinstance(save_freq, int) or save_freq <= 0):
            raise ConfigError(invalid("save_freq", save_freq, "'epoch' or a positive number of batches"))
        self.filepath, self.monitor, self.verbose = str(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = bool(save_best_only), bool(save_weights_only)
        self.save_freq = save_freq
        self.monitor_op = _mode_op(mode, monitor)
        self.best = (
            initial_value_threshold
            if initial_value_threshold is not None
            else (math.inf if self.monitor_op is np.less else -math.inf)
        )
        self._batches = 0
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if isinstance(self.save_freq, int):
            self._batches += 1
            if self._batches % self.save_freq == 0:
                self._save(self._epoch, {**(logs or {}), "batch": batch}, epoch_done=False)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, logs or {}, epoch_done=True)

    def _save(self, epoch: int, logs: Logs, epoch_done: bool) -> None:
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                logger.warning("ModelCheckpoint: %r is not in the logs; saving nothing", self.monitor)
                return
            if not self.monitor_op(current, self.best):
                return
            if self.verbose > 0:
                _say(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                    f"saving to {path}"
                )
            self.best = current
        elif self.verbose > 0:
            _say(f"Epoch {epoch + 1}: saving model to {path}")
        if not distributed.is_main_process():
            return
        # The epoch recorded is the next one to run: resuming starts there.
        next_epoch = epoch + 1 if epoch_done else epoch
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path, epoch=next_epoch)


class BackupAndRestore(Callback):
    """Fault tolerance (Keras's ``BackupAndRestore``): back up everything at each epoch end and,
    when ``fit`` starts and a backup exists, restore it and go on from the next epoch.

    The backup holds weights, optimizer state, the epoch and every RNG state, so a run
    killed at any moment and restarted with the same script ends with the same weights,
    bit for bit on CPU, as a run never interrupted.
    """

    def __init__(self, backup_dir: str | os.PathLike[str], delete_checkpoint: bool = True) -> None:
        super().__init__()
        self.backup_dir = Path(backup_dir)
        self.delete_checkpoint = bool(delete_checkpoint)

    @property
    def path(self) -> Path:
        return self.backup_dir / "backup.safetensors"

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if self.path.exists():
            self.model._resume_epoch = restore_training_state(self.model, self.path)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if distributed.is_main_process():
            self.backup_dir.mkdir(parents=True, exist_ok=True)
            self.model.save(self.path, epoch=epoch + 1, rng_state=True)

    def on_train_end(self, logs: Logs | None = None) -> None:
        if (
            self.delete_checkpoint
            and distributed.is_main_process()
            and not getattr(self.model, "_failed", False)
        ):
            shutil.rmtree(self.backup_dir, ignore_errors=True)


class ReduceLROnPlateau(Callback):
    """lr <- max(lr * factor, min_lr) after ``patience`` epochs without improvement of ``monitor``."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 < factor < 1.0:
            raise ConfigError(invalid("factor", factor, "a float in (0, 1)"))
        self.monitor, self.factor, self.patience, self.verbose = (
            monitor,
            float(factor),
            int(patience),
            verbose,
        )
        self.min_delta, self.cooldown, self.min_lr = float(min_delta), int(cooldown), float(min_lr)
        self.monitor_op = _mode_op(mode, monitor)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.cooldown_counter = 0
        self.best = math.inf if self.monitor_op is np.less else -math.inf

    def _improved(self, current: float) -> bool:
        if self.monitor_op is np.less:
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = optimizer.lr
        current = logs.get(self.monitor)
        if current is None:
            logger.warning(
                "ReduceLROnPlateau: %r is not in the logs (available: %s)", self.monitor, sorted(logs)
            )
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = optimizer.lr
                if old > self.min_lr:
                    optimizer.lr = max(old * self.factor, self.min_lr)
                    if self.verbose > 0:
                        _say(
                            f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                            f"{optimizer.lr:g}."
                        )
                    self.cooldown_counter, self.wait = self.cooldown, 0


class CSVLogger(Callback):
    """Append each epoch's logs as a CSV row: ``epoch,loss,...``."""

    def __init__(self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename, self.separator, self.append = Path(filename), separator, bool(append)
        self.keys: list[str] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.keys = None
        if distributed.is_main_process() and not self.append:
            self.filename.unlink(missing_ok=True)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if not distributed.is_main_process():
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        new = not self.filename.exists() or self.filename.stat().st_size == 0
        with open(self.filename, "a", newline="") as f:
            writer = csv.writer(f, delimiter=self.separator)
            if new:
                writer.writerow(["epoch", *self.keys])
            writer.writerow([epoch, *(logs.get(k, "NA") for k in self.keys)])


class TensorBoard(Callback):
    """Epoch scalars to TensorBoard event files (needs the ``tensorboard`` package)."""

    def __init__(self, log_dir: str | os.PathLike[str] = "logs") -> None:
        super().__init__()
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise MissingDependencyError(
                "TensorBoard needs the 'tensorboard' package: pip install tensorboard"
            ) from exc
        self._writer_cls = SummaryWriter
        self.log_dir = str(log_dir)
        self.writer: Any = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if distributed.is_main_process():
            self.writer = self._writer_cls(self.log_dir)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.writer is not None:
            for k, v in (logs or {}).items():
                self.writer.add_scalar(f"epoch_{k}", v, epoch)
            self.writer.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.writer is not None:
            self.writer.close()


class TerminateOnNaN(Callback):
    """End training quietly on a NaN/inf loss (without it, ``fit`` raises a TrainingError)."""

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            _say(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks: Callable[..., Any]) -> None:
        super().__init__()
        for name in hooks:
            if name not in _HOOKS:
                raise ConfigError(invalid("hook", name, _HOOKS))
        # CallbackList looks at the class to see which hooks are overridden: give this
        # instance a class of its own that has them (as plain functions, not methods).
        self.__class__ = type(
            "LambdaCallback", (LambdaCallback,), {k: staticmethod(v) for k, v in hooks.items()}
        )


class ProgbarLogger(Callback):
    """Keras's progress output. ``verbose=1``: a live bar on a terminal, plain lines otherwise;
    ``verbose=2``: one line per epoch always."""

    def __init__(self, verbose: int = 1) -> None:
        super().__init__()
        self.verbose = verbose
        self.live = verbose == 1 and progress.is_terminal()
        self._progress: Any = None
        self._refresh = 0.0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.epochs = int(self.params.get("epochs", 1))
        self.steps = self.params.get("steps")

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._t0 = time.perf_counter()
        self._seen = 0
        progress.write(f"Epoch {epoch + 1}/{self.epochs}")
        if self.live:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                MofNCompleteColumn(),
                BarColumn(bar_width=20),
                TimeRemainingColumn(),
                TextColumn("{task.fields[logs]}"),
                console=Console(file=progress.stream()),
                transient=False,
                auto_refresh=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("", total=self.steps, logs="")

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._seen = batch + 1
        if self._progress is None:
            return
        now = time.perf_counter()
        # Redrawing costs ~1 ms; at most 10 times a second keeps it off the step time.
        if now - self._refresh >= 0.1 or (self.steps and self._seen == self.steps):
            self._refresh = now
            self._progress.update(self._task, completed=self._seen, logs=progress.format_logs(logs or {}))
            self._progress.refresh()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        elapsed = time.perf_counter() - self._t0
        steps = self.steps or self._seen
        timing = f"{progress.duration(elapsed)} - {progress.per_step(elapsed, self._seen)}"
        line = f"{self._seen}/{steps} - {timing} - {progress.format_logs(logs or {})}"
        if self._progress is not None:
            self._progress.update(self._task, completed=self._seen, logs=progress.format_logs(logs or {}))
            self._progress.refresh()
            self._progress.stop()
            self._progress = None
            return
        progress.write(line)
