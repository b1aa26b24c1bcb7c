"""compile / fit / evaluate / predict, as in Keras 3, for any ``torch.nn.Module`` model.

The loop knows nothing about recurrent networks: it calls ``train_step(batch)``
for each batch (the override point, as in Keras), tracks the loss and metrics and
runs the callbacks. Stateful models and truncated BPTT need nothing here beyond
the data hooks :mod:`rnnkit.models.tbptt` uses (``on_epoch_begin(model)`` and
``on_batch_begin(model, batch)`` on the data object, like Keras's ``PyDataset``).

The loss reported for an epoch is Keras's: the mean over the epoch's samples of
each batch's loss (weighted by batch size), including regularization penalties.

compile() and the per-batch steps (losses, metrics, ``train_step`` ...) are in
:mod:`rnnkit.models.steps`; this module holds the loops over data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnkit import metrics as metrics_mod
from rnnkit.errors import ConfigError, TrainingError, invalid
from rnnkit.models import distributed
from rnnkit.models.callbacks import Callback, CallbackList, History, ProgbarLogger, TerminateOnNaN
from rnnkit.models.data import ArrayData, LoaderData, adapt, class_weights_to_sample_weights, tree_leaves
from rnnkit.models.progress import format_logs, write
from rnnkit.models.steps import PRECISIONS, Steps, Tensor, call_model  # noqa: F401 (re-exported)
from rnnkit.utils.device import resolve_device


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(invalid(name, value, f"an integer >= {minimum}"))
    return int(value)


class Trainer(Steps):
    """Keras's training API, mixed into :class:`~rnnkit.models.model.Model`."""

    # ------------------------------------------------------------------ setup shared by fit/evaluate
    def _prepare(self, first_x: Any) -> None:
        """Build lazily created weights from a real batch, then cache what every step needs."""
        from rnnkit.layers.base import Layer

        module: nn.Module = self  # type: ignore[assignment]
        module.to(self._device)
        unbuilt = [m for m in module.modules() if isinstance(m, Layer) and not m.built]
        if unbuilt or not any(True for _ in module.parameters()):
            was_training = module.training
            module.eval()
            with torch.no_grad(), self._autocast():
                call_model(self, first_x)
            module.train(was_training)
            self._forget_states()  # the build pass must not leave a carried state behind
        layers = [m for m in module.modules() if isinstance(m, Layer)]
        self._reg_layers = [m for m in layers if m._regularizers or m.activity_regularizer is not None]
        self._constraint_layers = [m for m in layers if m._constraints]

    def _input_structure(self, x: Any) -> Any:
        """Override point: how a model with several inputs reads ``x`` (the functional model
        takes a list of arrays as one array per input, as Keras does)."""
        return x

    def reset_states(self, indices: Any = None) -> None:
        """Reset the carried state of every stateful layer (``indices``: only those samples)."""
        for m in self.modules():  # type: ignore[attr-defined]
            if m is not self and hasattr(m, "reset_states") and getattr(m, "stateful", False):
                m.reset_states() if indices is None else m.reset_states(indices=indices)

    def _forget_states(self) -> None:
        """Drop carried states entirely (batch size included): after a build pass on dummy data."""
        for m in self.modules():  # type: ignore[attr-defined]
            if m is not self and getattr(m, "stateful", False) and hasattr(m, "reset_states"):
                try:
                    m.reset_states(batch_size=None)
                except TypeError:
                    m.reset_states()

    def _reduce_and_read(
        self, tracker: metrics_mod.Metric, extra: dict[str, metrics_mod.Mean]
    ) -> dict[str, float]:
        metric_list = [tracker, *extra.values(), *self.metrics]
        distributed.all_reduce_sum([t for m in metric_list for t in m.state_tensors()])
        if isinstance(tracker, metrics_mod.FloatMean):
            tracker.sync_from_tensors()
        logs = {"loss": tracker.result()}
        logs.update({k: m.result() for k, m in extra.items()})
        logs.update({m.name: m.result() for m in self.metrics})
        return logs

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: list[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool = True,
        class_weight: dict[int, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_batch_size: int | None = None,
    ) -> History:
        """Train for ``epochs`` epochs (Keras's arguments and meaning); returns the History.

        ``batch_size`` (default 32) is the global batch: in a torchrun run each of the N
        processes takes batch_size / N samples of it.
        """
        self._require_compiled("fit")
        batch_size = _check_int("batch_size", 32 if batch_size is None else batch_size, 1)
        epochs = _check_int("epochs", epochs, 0)
        initial_epoch = _check_int("initial_epoch", initial_epoch, 0)
        if (
            isinstance(validation_split, bool)
            or not isinstance(validation_split, (int, float))
            or not (validation_split == 0 or 0 < validation_split < 1)
        ):
            raise ConfigError(
                invalid(
                    "validation_split", validation_split, "a float in (0, 1), or 0 for no validation split"
                )
            )
        verbose = 1 if verbose == "auto" else verbose
        self._device = distributed.setup(self._device)
        rank, world = distributed.rank(), distributed.world_size()

        data = adapt(
            self._input_structure(x),
            y,
            sample_weight,
            batch_size=batch_size,
            shuffle=shuffle,
            rank=rank,
            world=world,
        )
        val: ArrayData | LoaderData | None = None
        if validation_split:
            if not isinstance(data, ArrayData):
                raise ConfigError(
                    invalid(
                        "validation_split",
                        validation_split,
                        "0 when x is a Dataset or DataLoader (pass validation_data instead)",
                    )
                )
            data, val = data.split(float(validation_split))
        elif validation_data is not None:
            val = self._adapt_validation(validation_data, validation_batch_size or batch_size, rank, world)
        val_batch = validation_batch_size or batch_size

        first = next(iter(self._batches(data, batch_size, False, rank, world)))
        self._prepare(first[0])
        del first
        if not self.optimizer.built:  # type: ignore[union-attr]
            self.optimizer.build(self.parameters())  # type: ignore[union-attr, attr-defined]
        if world > 1 and self.__dict__.get("_ddp") is None:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self._device.index] if self._device.type == "cuda" else None
            # object.__setattr__: the wrapper must not become a submodule of the model it wraps
            object.__setattr__(self, "_ddp", DistributedDataParallel(self, device_ids=ids))  # type: ignore[arg-type]

        steps = steps_per_epoch or data.num_batches(batch_size, world)
        history = History()
        cbs = list(callbacks or [])
        if verbose and distributed.is_main_process():
            cbs.append(ProgbarLogger(verbose=int(verbose)))
        cbs.append(history)
        params = {"epochs": epochs, "steps": steps, "verbose": verbose, "batch_size": batch_size}
        cb = CallbackList(cbs, self, params)
        terminate_on_nan = any(isinstance(c, TerminateOnNaN) for c in cbs)
        if class_weight is not None and not isinstance(class_weight, dict):
            raise ConfigError(invalid("class_weight", class_weight, "a dict {class id: weight}"))

        self.stop_training = False
        self._resume_epoch: int | None = None
        self._failed = True
        self._labels_checked = False
        cb.call("on_train_begin", {})
        if self._resume_epoch is not None:  # BackupAndRestore found a backup
            initial_epoch = max(initial_epoch, self._resume_epoch)
        module: nn.Module = self  # type: ignore[assignment]
        tracker = metrics_mod.FloatMean("loss")
        logs: dict[str, Any] = {}
        for epoch in range(initial_epoch, epochs):
            self.epoch = epoch
            self.reset_metrics()
            tracker.reset_state()
            extra: dict[str, metrics_mod.Mean] = {}
            module.train()
            _data_hook(data, "on_epoch_begin", self)
            cb.call("on_epoch_begin", epoch, {})
            batch_end = cb.wants("on_train_batch_end")
            for step, (bx, by, bw) in enumerate(self._batches(data, batch_size, shuffle, rank, world)):
                if steps_per_epoch is not None and step >= steps_per_epoch:
                    break
                _data_hook(data, "on_batch_begin", self, step)
                cb.call("on_train_batch_begin", step, {})
                if class_weight is not None and by is not None:
                    cw = class_weights_to_sample_weights(by, class_weight).to(self._device)
                    bw = cw if bw is None else bw.reshape(*bw.shape, *([1] * (cw.dim() - bw.dim()))) * cw
                out = self.train_step((bx, by, bw))
                loss = out["loss"] if isinstance(out, dict) else out
                n = _batch_len(bx)
                loss_value = float(loss)  # one sync per step, as Keras's progress bar does
                if not math.isfinite(loss_value):
                    if terminate_on_nan:
                        tracker.update_float(loss_value, n)
                        cb.call("on_train_batch_end", step, {"loss": loss_value})
                        break
                    raise TrainingError(
                        f"the loss became {loss_value} at epoch {epoch + 1}, batch {step + 1}: training "
                        "cannot go on. Recurrent networks often need gradient clipping: compile with "
                        "optimizer=rnnkit.optimizers.Adam(clipnorm=1.0); a lower learning rate also helps."
                    )
                tracker.update_float(loss_value, n)
                if isinstance(out, dict):
                    for k, v in out.items():
                        if k != "loss":
                            extra.setdefault(k, metrics_mod.Mean(k)).update_value(torch.as_tensor(v), n)
                if batch_end:
                    batch_logs = {"loss": tracker.result(), **{m.name: m.result() for m in self.metrics}}
                    cb.call("on_train_batch_end", step, batch_logs)
                if self.stop_training:
                    break
            logs = self._reduce_and_read(tracker, extra)
            if val is not None:
                val_logs = self._run_eval(val, val_batch, rank, world)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cb.call("on_epoch_end", epoch, logs)
            if world > 1:
                # A callback on its own clock (a time limit) may stop one process and not another,
                # and the one going on would wait forever for the others' gradients: stop together.
                self.stop_training = distributed.any_process(self.stop_training, self._device)
            if self.stop_training:
                break
        self._failed = False
        cb.call("on_train_end", logs)
        module.train()
        return history

    def _adapt_validation(self, validation_data: Any, batch_size: int, rank: int, world: int) -> Any:
        if isinstance(validation_data, tuple) and len(validation_data) in (2, 3):
            vx, vy = validation_data[0], validation_data[1]
            vw = validation_data[2] if len(validation_data) == 3 else None
            return adapt(
                self._input_structure(vx),
                vy,
                vw,
                batch_size=batch_size,
                rank=rank,
                world=world,
                what="validation_data",
            )
        return adapt(validation_data, batch_size=batch_size, rank=rank, world=world, what="validation_data")

    def _batches(self, data: Any, batch_size: int, shuffle: bool, rank: int, world: int) -> Iterator[Any]:
        return data.batches(batch_size, shuffle=shuffle, device=self._device, rank=rank, world=world)

    def _run_eval(
        self, data: Any, batch_size: int, rank: int, world: int, cb: CallbackList | None = None
    ) -> dict[str, float]:
        module: nn.Module = self  # type: ignore[assignment]
        was_training = module.training
        module.eval()
        self.reset_metrics()
        tracker = metrics_mod.Mean("loss")  # on the device: no sync per step
        extra: dict[str, metrics_mod.Mean] = {}
        _data_hook(data, "on_epoch_begin", self)
        try:
            for step, batch in enumerate(self._batches(data, batch_size, False, rank, world)):
                _data_hook(data, "on_batch_begin", self, step)
                if cb is not None:
                    cb.call("on_test_batch_begin", step, {})
                out = self.test_step(batch)
                loss = out["loss"] if isinstance(out, dict) else out
                n = _batch_len(batch[0])
                tracker.update_value(loss, n)
                if isinstance(out, dict):
                    for k, v in out.items():
                        if k != "loss":
                            extra.setdefault(k, metrics_mod.Mean(k)).update_value(torch.as_tensor(v), n)
                if cb is not None and cb.wants("on_test_batch_end"):
                    cb.call("on_test_batch_end", step, {"loss": tracker.result()})
        finally:
            module.train(was_training)
        return self._reduce_and_read(tracker, extra)

    # ------------------------------------------------------------------ evaluate / predict
    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        sample_weight: Any = None,
        callbacks: list[Callback] | None = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """Loss and metrics on data, in eval mode: the loss alone, ``[loss, *metrics]``, or a dict."""
        self._require_compiled("evaluate")
        batch_size = _check_int("batch_size", 32 if batch_size is None else batch_size, 1)
        rank, world = distributed.rank(), distributed.world_size()
        data = adapt(
            self._input_structure(x), y, sample_weight, batch_size=batch_size, rank=rank, world=world
        )
        self._prepare(next(iter(self._batches(data, batch_size, False, rank, world)))[0])
        self._labels_checked = False
        cb = CallbackList(list(callbacks or []), self, {"verbose": verbose})
        cb.call("on_test_begin", {})
        t0 = time.perf_counter()
        logs = self._run_eval(data, batch_size, rank, world, cb)
        cb.call("on_test_end", logs)
        if verbose and distributed.is_main_process():
            write(f"evaluate - {time.perf_counter() - t0:.0f}s - {format_logs(logs)}")
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    @torch.no_grad()
    def predict(self, x: Any, batch_size: int | None = None, verbose: int | str = "auto") -> Any:
        """Outputs for ``x`` as NumPy arrays, in batches, in eval mode (the previous mode is restored)."""
        batch_size = _check_int("batch_size", 32 if batch_size is None else batch_size, 1)
        if not hasattr(self, "_device"):
            self._device = _model_device(self)
        if not hasattr(self, "mixed_precision"):
            self.mixed_precision = None
        data = adapt(self._input_structure(x), None, batch_size=batch_size, what="x")
        module: nn.Module = self  # type: ignore[assignment]
        self._prepare(next(iter(self._batches(data, batch_size, False, 0, 1)))[0])
        was_training = module.training
        module.eval()
        chunks: list[Any] = []
        try:
            _data_hook(data, "on_epoch_begin", self)
            for step, batch in enumerate(self._batches(data, batch_size, False, 0, 1)):
                _data_hook(data, "on_batch_begin", self, step)
                chunks.append(self.predict_step(batch))
        finally:
            module.train(was_training)
        return _concat(chunks)

    def predict_on_batch(self, x: Any) -> Any:
        return self.predict(x, batch_size=max(1, _batch_len_any(x)))

    def train_on_batch(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        class_weight: dict[int, float] | None = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """One optimizer step on exactly this batch; returns its loss and metrics."""
        self._require_compiled("train_on_batch")
        data = ArrayData(self._input_structure(x), y, sample_weight)
        (bx, by, bw) = next(iter(self._batches(data, len(data), False, 0, 1)))
        self._prepare(bx)
        if not self.optimizer.built:  # type: ignore[union-attr]
            self.optimizer.build(self.parameters())  # type: ignore[union-attr, attr-defined]
        if class_weight is not None and by is not None:
            cw = class_weights_to_sample_weights(by, class_weight).to(self._device)
            bw = cw if bw is None else bw * cw
        self.reset_metrics()
        self._labels_checked = False
        module: nn.Module = self  # type: ignore[assignment]
        module.train()
        out = self.train_step((bx, by, bw))
        loss = out["loss"] if isinstance(out, dict) else out
        logs = {"loss": float(loss), **{m.name: m.result() for m in self.metrics}}
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def test_on_batch(
        self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False
    ) -> float | list[float] | dict[str, float]:
        """Loss and metrics on exactly this batch, in eval mode."""
        return self.evaluate(
            x,
            y,
            batch_size=max(1, _batch_len_any(x)),
            sample_weight=sample_weight,
            verbose=0,
            return_dict=return_dict,
        )


def _data_hook(data: Any, name: str, *args: Any) -> None:
    target = data.data if isinstance(data, LoaderData) else data
    fn = getattr(target, name, None)
    if fn is not None:
        fn(*args)


def _batch_len(x: Any) -> int:
    leaves = tree_leaves(x)
    return int(leaves[0].shape[0]) if leaves else 1


def _batch_len_any(x: Any) -> int:
    leaves = tree_leaves(x)
    return len(leaves[0]) if leaves else 1


def _model_device(model: Any) -> torch.device:
    for p in model.parameters():
        return p.device
    return resolve_device("auto")


def _concat(chunks: list[Any]) -> Any:
    first = chunks[0]
    if isinstance(first, dict):
        return {k: _concat([c[k] for c in chunks]) for k in first}
    if isinstance(first, (tuple, list)):
        return type(first)(_concat([c[i] for c in chunks]) for i in range(len(first)))
    arrays = [(c.float() if c.dtype == torch.bfloat16 else c).cpu().numpy() for c in chunks]
    if len({a.shape[1:] for a in arrays}) > 1:
        return arrays  # e.g. TBPTT chunks of unequal length: see tbptt.streams_to_array
    return np.concatenate(arrays)
