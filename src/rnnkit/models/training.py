"""compile / fit / evaluate / predict, as in Keras 3, for any ``torch.nn.Module`` model.

The loop knows nothing about recurrent networks: it calls ``train_step(batch)``
for each batch (the override point, as in Keras), tracks the loss and metrics and
runs the callbacks. Stateful models and truncated BPTT need nothing here beyond
the data hooks :mod:`rnnkit.models.tbptt` uses (``on_epoch_begin(model)`` and
``on_batch_begin(model, batch)`` on the data object, like Keras's ``PyDataset``).

The loss reported for an epoch is Keras's: the mean over the epoch's samples of
each batch's loss (weighted by batch size), including regularization penalties.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnkit.errors import ConfigError, DataError, TrainingError, invalid
from rnnkit.models import distributed
from rnnkit.models import losses as losses_mod
from rnnkit.models import metrics as metrics_mod
from rnnkit.models import optimizers as optimizers_mod
from rnnkit.models.callbacks import Callback, CallbackList, History, TerminateOnNaN
from rnnkit.models.data import ArrayData, LoaderData, adapt, class_weights_to_sample_weights, tree_leaves
from rnnkit.utils.device import resolve_device

Tensor = torch.Tensor
PRECISIONS = (None, "bf16")


def call_model(fn: Any, x: Any) -> Any:
    """Several inputs reach ``forward`` as arguments: a tuple positionally, a dict by name."""
    if isinstance(x, tuple):
        return fn(*x)
    if isinstance(x, dict):
        return fn(**x)
    return fn(x)


def _outputs(y_pred: Any) -> list[tuple[str, Tensor]]:
    if isinstance(y_pred, dict):
        return list(y_pred.items())
    if isinstance(y_pred, (tuple, list)):
        return [(f"output_{i}", t) for i, t in enumerate(y_pred)]
    return [("", y_pred)]


def _targets(y: Any, keys: list[str]) -> list[Any]:
    if len(keys) == 1 and keys[0] == "":
        return [y]
    if isinstance(y, dict):
        return [y.get(k) for k in keys]
    if isinstance(y, (tuple, list)) and len(y) == len(keys):
        return list(y)
    raise DataError(invalid("y", f"a {type(y).__name__}", f"one target per model output ({len(keys)})"))


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(invalid(name, value, f"an integer >= {minimum}"))
    return int(value)


class Trainer:
    """Keras's training API, mixed into :class:`~rnnkit.models.model.Model`."""

    # set by compile
    optimizer: optimizers_mod.Optimizer | None
    compiled_loss: Any
    stop_training: bool

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Any = None,
        loss_weights: Any = None,
        *,
        mixed_precision: str | None = None,
        device: Any = "auto",
    ) -> None:
        """Choose the optimizer, loss(es) and metrics (names or objects, as in Keras).

        For several outputs, ``loss`` and ``loss_weights`` may be lists or dicts keyed
        like the outputs; ``metrics`` is applied to every output.
        ``mixed_precision="bf16"`` runs forward passes under bfloat16 autocast (losses in float32).
        ``device="auto"`` trains on CUDA when present.
        """
        if mixed_precision not in PRECISIONS:
            raise ConfigError(invalid("mixed_precision", mixed_precision, PRECISIONS))
        self.optimizer = optimizers_mod.get(optimizer)
        self._loss_spec = loss
        self.compiled_loss = self._resolve_losses(loss)
        self._loss_weights = loss_weights
        self._metric_spec = list(metrics or [])
        if isinstance(metrics, (str, dict)) or not isinstance(metrics, (list, tuple, type(None))):
            raise ConfigError(invalid("metrics", metrics, "a list of metric names or objects"))
        self._metrics_by_output: dict[str, list[metrics_mod.Metric]] = {}
        first_loss = self._first_loss()
        for m in self._metric_spec:  # validate names now, as Keras does
            metrics_mod.get(m, loss=first_loss)
        self.mixed_precision = mixed_precision
        self._device = resolve_device(device)
        self.compiled = True
        self.stop_training = False

    def _resolve_losses(self, loss: Any) -> Any:
        if loss is None:
            return None
        if isinstance(loss, dict):
            return {k: losses_mod.get(v) for k, v in loss.items()}
        if isinstance(loss, (list, tuple)):
            return [losses_mod.get(v) for v in loss]
        return losses_mod.get(loss)

    def _first_loss(self) -> losses_mod.Loss | None:
        loss = self.compiled_loss
        if isinstance(loss, dict):
            return next(iter(loss.values()), None)
        if isinstance(loss, list):
            return loss[0] if loss else None
        return loss

    def _require_compiled(self, what: str) -> None:
        if not getattr(self, "compiled", False):
            raise ConfigError(f"call model.compile(optimizer, loss, metrics) before model.{what}().")

    # ------------------------------------------------------------------ losses and metrics
    def _loss_for(self, i: int, key: str) -> tuple[losses_mod.Loss | None, float]:
        loss = self.compiled_loss
        if isinstance(loss, dict):
            fn = loss.get(key)
        elif isinstance(loss, list):
            fn = loss[i] if i < len(loss) else None
        else:
            fn = loss
        w = self._loss_weights
        weight = 1.0
        if isinstance(w, dict):
            weight = float(w.get(key, 1.0))
        elif isinstance(w, (list, tuple)):
            weight = float(w[i])
        elif w is not None:
            weight = float(w)
        return fn, weight

    def compute_loss(self, x: Any, y: Any, y_pred: Any, sample_weight: Tensor | None = None) -> Tensor:
        """Keras's compute_loss: the weighted sum of the outputs' losses plus the penalties."""
        outs = _outputs(y_pred)
        keys = [k for k, _ in outs]
        if self.compiled_loss is None:
            raise ConfigError("no loss was given to compile(): pass loss=... or override compute_loss().")
        if y is None:
            raise DataError(
                invalid("y", None, "targets for the loss (or a Dataset/DataLoader yielding (x, y))")
            )
        total: Tensor | float = 0.0
        for i, ((key, pred), target) in enumerate(zip(outs, _targets(y, keys), strict=True)):
            fn, weight = self._loss_for(i, key)
            if fn is None or target is None:
                continue
            pred32 = pred.float() if pred.dtype in (torch.bfloat16, torch.float16) else pred
            if pred32 is not pred and hasattr(pred, "_keras_mask"):
                pred32._keras_mask = pred._keras_mask  # type: ignore[attr-defined]
            if not getattr(self, "_labels_checked", False):
                fn.check_labels(target, pred32)
            total = total + weight * fn(target, pred32, sample_weight)
        if not getattr(self, "_labels_checked", False):
            self._labels_checked = True
        penalty = self._penalties()
        if not isinstance(total, Tensor):
            raise ConfigError("the loss matched none of the model's outputs: check the keys of loss= and y.")
        return total + penalty if isinstance(penalty, Tensor) else total

    def _penalties(self) -> Tensor | float:
        total: Tensor | float = 0.0
        for layer in self._reg_layers:
            for pname, reg in layer._regularizers.items():
                total = total + reg(getattr(layer, pname))
            for loss in layer._activity_losses:
                total = total + loss
        return total

    def _metric_objects(self, i: int, key: str) -> list[metrics_mod.Metric]:
        ms = self._metrics_by_output.get(key)
        if ms is None:
            loss, _ = self._loss_for(i, key)
            ms = [metrics_mod.get(m, loss=loss or self._first_loss()) for m in self._metric_spec]
            for m in ms:
                if key:
                    m.name = f"{key}_{m.name}"
            self._metrics_by_output[key] = ms
        return ms

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Tensor | None = None) -> None:
        """Update every metric with this batch (no device sync)."""
        if not self._metric_spec or y is None:
            return
        outs = _outputs(y_pred)
        for i, ((key, pred), target) in enumerate(zip(outs, _targets(y, [k for k, _ in outs]), strict=True)):
            if target is None:
                continue
            mask = getattr(pred, "_keras_mask", None)
            for m in self._metric_objects(i, key):
                m.update_state(target, pred, sample_weight, mask=mask)

    @property
    def metrics(self) -> list[metrics_mod.Metric]:
        return [m for ms in self._metrics_by_output.values() for m in ms]

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    # ------------------------------------------------------------------ steps
    def _autocast(self) -> Any:
        if self.mixed_precision == "bf16":
            return torch.autocast(device_type=self._device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_step(self, data: tuple[Any, Any, Tensor | None]) -> Tensor | dict[str, Any]:
        """One optimizer step on one batch; returns the batch loss (or a dict with "loss").

        Override it for custom training (GAN-style, teacher forcing schedules ...);
        call the model through ``self.train_forward(x)`` so that distributed runs
        average gradients.
        """
        x, y, sample_weight = data
        with self._autocast():
            y_pred = self.train_forward(x)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        self.optimizer.zero_grad()  # type: ignore[union-attr]
        loss.backward()
        self.optimizer.step()  # type: ignore[union-attr]
        if self._constraint_layers:
            for layer in self._constraint_layers:
                layer.apply_constraints()
        self.compute_metrics(x, y, y_pred, sample_weight)
        return loss.detach()

    @torch.no_grad()
    def test_step(self, data: tuple[Any, Any, Tensor | None]) -> Tensor | dict[str, Any]:
        """Loss and metrics on one batch, no update."""
        x, y, sample_weight = data
        with self._autocast():
            y_pred = call_model(self, x)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        self.compute_metrics(x, y, y_pred, sample_weight)
        return loss.detach()

    @torch.no_grad()
    def predict_step(self, data: tuple[Any, Any, Tensor | None]) -> Any:
        x, _, _ = data
        with self._autocast():
            return call_model(self, x)

    def train_forward(self, x: Any) -> Any:
        """The forward pass used for training: through DistributedDataParallel when distributed."""
        ddp = self.__dict__.get("_ddp")
        return call_model(ddp if ddp is not None else self, x)

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

        data = adapt(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, rank=rank, world=world)
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
            from rnnkit.models.progress import ProgbarLogger

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
            return adapt(vx, vy, vw, batch_size=batch_size, rank=rank, world=world, what="validation_data")
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
        data = adapt(x, y, sample_weight, batch_size=batch_size, rank=rank, world=world)
        self._prepare(next(iter(self._batches(data, batch_size, False, rank, world)))[0])
        self._labels_checked = False
        cb = CallbackList(list(callbacks or []), self, {"verbose": verbose})
        cb.call("on_test_begin", {})
        t0 = time.perf_counter()
        logs = self._run_eval(data, batch_size, rank, world, cb)
        cb.call("on_test_end", logs)
        if verbose and distributed.is_main_process():
            from rnnkit.models.progress import format_logs, write

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
        data = adapt(x, None, batch_size=batch_size, what="x")
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
        data = ArrayData(x, y, sample_weight)
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
