"""Metrics with Keras's names and semantics: a name -> class registry.

A metric accumulates over an epoch (``update_state``), reports a float
(``result``) and starts again (``reset_state``). Mean metrics keep two tensors on
the model's device, total = sum(v_i w_i) and count = sum(w_i), so updating costs
no device sync; ``fit`` reads them when it prints. In distributed runs the two
tensors are summed over processes before ``result``.

``"accuracy"`` is resolved as Keras does: from the loss (binary / categorical /
sparse), else from the shapes. One deliberate difference: with
``binary_crossentropy(from_logits=True)`` binary accuracy thresholds logits at 0
(Keras compares logits with 0.5, which is almost never what is meant).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from rnnkit.errors import ConfigError, invalid
from rnnkit.losses import Loss, match_rank

Tensor = torch.Tensor
METRICS: dict[str, type[Metric]] = {}


class Metric:
    """Base class of a stateful metric."""

    default_name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for key in (cls.default_name, *cls.aliases):
            if key:
                METRICS[key] = cls

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.default_name
        self.total: Tensor | None = None
        self.count: Tensor | None = None

    def values(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        """One value per sample (or per step); the metric is their weighted mean."""
        raise NotImplementedError

    @torch.no_grad()
    def update_state(
        self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None, mask: Tensor | None = None
    ) -> None:
        v = self.values(y_true, y_pred.detach()).to(torch.float32)
        w = torch.ones_like(v) if sample_weight is None else _weights_like(sample_weight, v)
        if mask is not None and mask.shape == v.shape:
            w = w * mask.to(v.dtype)
        self._add((v * w).sum(), w.sum())

    def _add(self, total: Tensor, count: Tensor) -> None:
        if self.total is None or self.count is None:
            self.total, self.count = total.detach().clone(), count.detach().clone()
        else:
            self.total += total.detach()
            self.count += count.detach()

    def result(self) -> float:
        if self.total is None or self.count is None:
            return 0.0
        return float(self.total / self.count.clamp_min(1e-12))

    def reset_state(self) -> None:
        self.total = self.count = None

    def state_tensors(self) -> list[Tensor]:
        """The tensors to sum across processes (distributed training)."""
        return [t for t in (self.total, self.count) if t is not None]

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}


def _weights_like(sample_weight: Tensor, v: Tensor) -> Tensor:
    w = sample_weight.to(v.dtype)
    while w.dim() > v.dim() and w.shape[-1] == 1:
        w = w.squeeze(-1)
    while w.dim() < v.dim():
        w = w.unsqueeze(-1)
    return w.expand_as(v)


class Mean(Metric):
    """The weighted mean of the values given (fit tracks the loss with it, weighted by batch size)."""

    default_name = "mean"

    def update_value(self, value: Tensor, weight: float | Tensor = 1.0) -> None:
        value = value.detach().to(torch.float32)
        self._add(value * weight, torch.as_tensor(weight, dtype=torch.float32, device=value.device))


class FloatMean(Metric):
    """A weighted mean kept in Python floats, for values already read from the device
    (fit reads each batch loss once anyway): no tensor work per step."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self.total_f = 0.0
        self.count_f = 0.0

    def update_float(self, value: float, weight: float = 1.0) -> None:
        self.total_f += value * weight
        self.count_f += weight

    def result(self) -> float:
        return self.total_f / self.count_f if self.count_f else 0.0

    def reset_state(self) -> None:
        self.total_f = self.count_f = 0.0

    def state_tensors(self) -> list[Tensor]:
        self.total, self.count = torch.tensor(self.total_f), torch.tensor(self.count_f)
        return [self.total, self.count]

    def sync_from_tensors(self) -> None:
        """After an all-reduce of :meth:`state_tensors`, read the sums back."""
        if self.total is not None and self.count is not None:
            self.total_f, self.count_f = float(self.total), float(self.count)


class BinaryAccuracy(Metric):
    """mean(1[p > threshold] == y)."""

    default_name = "binary_accuracy"

    def __init__(self, name: str | None = None, threshold: float = 0.5) -> None:
        super().__init__(name)
        self.threshold = float(threshold)

    def values(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        y_true = match_rank(y_true, y_pred)
        hit = ((y_pred > self.threshold).to(y_pred.dtype) == y_true.to(y_pred.dtype)).to(torch.float32)
        return hit.mean(dim=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(Metric):
    """mean(argmax p == argmax y), one-hot labels."""

    default_name = "categorical_accuracy"

    def values(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return (y_pred.argmax(dim=-1) == y_true.argmax(dim=-1)).to(torch.float32)


class SparseCategoricalAccuracy(Metric):
    """mean(argmax p == y), integer labels."""

    default_name = "sparse_categorical_accuracy"

    def values(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        if y_true.dim() == y_pred.dim():
            y_true = y_true.squeeze(-1)
        return (y_pred.argmax(dim=-1) == y_true.long()).to(torch.float32)


class TopKCategoricalAccuracy(Metric):
    """Whether the true class (one-hot) is among the k highest predictions."""

    default_name = "top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None) -> None:
        super().__init__(name)
        self.k = int(k)

    def _ids(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return y_true.argmax(dim=-1)

    def values(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        ids = self._ids(y_true, y_pred)
        top = y_pred.topk(min(self.k, y_pred.shape[-1]), dim=-1).indices  # (..., k)
        return (top == ids.unsqueeze(-1)).any(dim=-1).to(torch.float32)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "k": self.k}


class SparseTopKCategoricalAccuracy(TopKCategoricalAccuracy):
    default_name = "sparse_top_k_categorical_accuracy"

    def _ids(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        if y_true.dim() == y_pred.dim():
            y_true = y_true.squeeze(-1)
        return y_true.long()


class MeanAbsoluteError(Metric):
    default_name = "mean_absolute_error"
    aliases = ("mae",)

    def values(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return (match_rank(y_true, y_pred).to(y_pred.dtype) - y_pred).abs().mean(dim=-1)


class MeanSquaredError(Metric):
    default_name = "mean_squared_error"
    aliases = ("mse",)

    def values(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return (match_rank(y_true, y_pred).to(y_pred.dtype) - y_pred).square().mean(dim=-1)


class Perplexity(Metric):
    """exp(mean cross-entropy per token) for integer targets (keras_nlp's Perplexity).

    ``mask_token_id`` leaves padding targets out. ``from_logits=None`` takes it from the loss.
    """

    default_name = "perplexity"

    def __init__(
        self, from_logits: bool | None = None, mask_token_id: int | None = None, name: str | None = None
    ) -> None:
        super().__init__(name)
        self.from_logits = from_logits
        self.mask_token_id = mask_token_id

    @torch.no_grad()
    def update_state(
        self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None, mask: Tensor | None = None
    ) -> None:
        if y_true.dim() == y_pred.dim():
            y_true = y_true.squeeze(-1)
        ids = y_true.long()
        y_pred = y_pred.detach().float()
        logp = torch.log_softmax(y_pred, -1) if self.from_logits else torch.log(y_pred.clamp_min(1e-7))
        nll = -logp.gather(-1, ids.unsqueeze(-1)).squeeze(-1)
        w = torch.ones_like(nll) if sample_weight is None else _weights_like(sample_weight, nll)
        if mask is not None and mask.shape == nll.shape:
            w = w * mask.to(nll.dtype)
        if self.mask_token_id is not None:
            w = w * (ids != self.mask_token_id).to(nll.dtype)
        self._add((nll * w).sum(), w.sum())

    def result(self) -> float:
        if self.total is None or self.count is None:
            return 0.0
        return float(torch.exp(self.total / self.count.clamp_min(1e-12)))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits, "mask_token_id": self.mask_token_id}


class AutoAccuracy(Metric):
    """ "accuracy" for a loss that does not imply one: picked from the shapes on the first batch."""

    def values(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        if y_pred.shape[-1] == 1:
            return BinaryAccuracy.values(BinaryAccuracy(), y_true, y_pred)
        if y_true.shape == y_pred.shape:
            return CategoricalAccuracy.values(CategoricalAccuracy(), y_true, y_pred)
        return SparseCategoricalAccuracy.values(SparseCategoricalAccuracy(), y_true, y_pred)


class FunctionMetric(Metric):
    """Wraps ``fn(y_true, y_pred) -> values``; the metric is their mean."""

    def __init__(self, fn: Any, name: str | None = None) -> None:
        super().__init__(name or getattr(fn, "__name__", "metric"))
        self.fn = fn

    def values(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return self.fn(y_true, y_pred)


def _names() -> list[str]:
    return sorted({"accuracy", "acc", *METRICS} - {"mean"})


def get(identifier: Any, loss: Loss | None = None) -> Metric:
    """A metric from a name, a config dict, a Metric or a function.

    ``"accuracy"``/``"acc"`` picks binary/categorical/sparse accuracy from ``loss``
    (or, for a loss that does not say, from the shapes of the first batch), keeping the name given.
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = METRICS.get(identifier["class_name"])
        if cls is None:
            raise ConfigError(invalid("metrics", identifier["class_name"], _names()))
        return cls(**identifier.get("config", {}))
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            kind = getattr(loss, "accuracy", None)
            if kind is None:
                return AutoAccuracy(name=identifier)
            if kind == "binary_accuracy" and getattr(loss, "from_logits", False):
                return BinaryAccuracy(name=identifier, threshold=0.0)
            return METRICS[kind](name=identifier)
        if identifier == "perplexity":
            return Perplexity(from_logits=bool(getattr(loss, "from_logits", False)))
        cls = METRICS.get(identifier)
        if cls is None or cls is Mean:
            raise ConfigError(invalid("metrics", identifier, _names()))
        metric = cls()
        metric.name = identifier  # Keras reports the name as given ("mae", not "mean_absolute_error")
        return metric
    if callable(identifier):
        return FunctionMetric(identifier)
    raise ConfigError(invalid("metrics", identifier, _names()))


def serialize(metric: Metric) -> dict[str, Any] | None:
    if isinstance(metric, FunctionMetric):
        return None
    return {"class_name": type(metric).default_name, "config": metric.get_config()}
