"""compile() and everything one batch needs: losses, metrics, train/test/predict steps.

:class:`Steps` holds the per-batch half of Keras's training API: ``compile``,
``compute_loss`` / ``compute_metrics``, and ``train_step`` / ``test_step`` /
``predict_step`` (the override points, as in Keras). :class:`~rnnkit.models.training.Trainer`
builds on it with the loops over data (fit / evaluate / predict).
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from rnnkit import losses as losses_mod
from rnnkit import metrics as metrics_mod
from rnnkit import optimizers as optimizers_mod
from rnnkit.errors import ConfigError, DataError, invalid
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


class Steps:
    """The per-batch half of Keras's training API; :class:`~rnnkit.models.training.Trainer` adds the loops."""

    # set by compile
    optimizer: optimizers_mod.Optimizer | None
    compiled_loss: Any
    stop_training: bool
    # set by Trainer._prepare before the first step
    _reg_layers: list[Any]
    _constraint_layers: list[Any]

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
