"""Losses with Keras's names and semantics: a name -> class registry.

A loss maps ``(y_true, y_pred)`` to one value per sample (per time step for
sequence outputs); :meth:`Loss.__call__` reduces it as Keras 3's default
``"sum_over_batch_size"``: sum(l_i * w_i) / count, where masked entries
(``y_pred._keras_mask``) are left out of both sums.

With probabilities (``from_logits=False``), predictions are clipped to
[eps, 1 - eps], eps = 1e-7, as Keras does:

- binary:      l = -mean_k [y_k log p_k + (1 - y_k) log(1 - p_k)]
- categorical: l = -sum_c y_c log p_c   (p renormalized to sum to 1)
- sparse:      l = -log p_{y}           (y an integer class id)
- mse: mean_k (y - p)^2 ; mae: mean_k |y - p| ;
  huber: mean_k [ 0.5 e^2 if |e| <= d else d (|e| - d/2) ], e = y - p
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from rnnkit.errors import ConfigError, DataError, invalid

Tensor = torch.Tensor
EPSILON = 1e-7

LOSSES: dict[str, type[Loss]] = {}


def match_rank(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Keras's squeeze_or_expand: labels (B,) against predictions (B, 1) become (B, 1), and back."""
    if y_true.dim() == y_pred.dim() - 1 and y_pred.shape[-1] == 1:
        return y_true.unsqueeze(-1)
    if y_true.dim() == y_pred.dim() + 1 and y_true.shape[-1] == 1:
        return y_true.squeeze(-1)
    return y_true


class Loss:
    """Base class: subclasses implement :meth:`per_sample`."""

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    #: the metric "accuracy" resolves to, as Keras picks it from the loss
    accuracy: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for key in (cls.name, *cls.aliases):
            if key:
                LOSSES[key] = cls

    def __init__(self, reduction: str = "sum_over_batch_size") -> None:
        if reduction not in ("sum_over_batch_size", "sum", "mean", "none"):
            raise ConfigError(invalid("reduction", reduction, ["sum_over_batch_size", "sum", "mean", "none"]))
        self.reduction = reduction
        self.from_logits = False

    def per_sample(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        raise NotImplementedError

    def check_labels(self, y_true: Tensor, y_pred: Tensor) -> None:
        """Raise a DataError when labels cannot be right for this loss (run once, on the first batch)."""
        if y_true.shape[0] != y_pred.shape[0]:
            raise DataError(invalid("y", f"a batch of {y_true.shape[0]}", f"{y_pred.shape[0]} labels"))

    def __call__(
        self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        losses = self.per_sample(y_true, y_pred)  # (B,) or (B, T)
        if mask is None:
            mask = getattr(y_pred, "_keras_mask", None)
        if sample_weight is None and mask is None and self.reduction == "sum_over_batch_size":
            return losses.mean()  # the common case, in one op
        weights = _broadcast_weight(sample_weight, losses)
        if mask is not None and mask.shape == losses.shape:
            m = mask.to(losses.dtype)
            weights = m if weights is None else weights * m
        if self.reduction == "none":
            return losses if weights is None else losses * weights
        total = (losses if weights is None else losses * weights).sum()
        if self.reduction == "sum":
            return total
        if mask is not None and mask.shape == losses.shape:
            # Keras rescales a mask so the mean runs over the unmasked entries only
            return total / mask.sum().clamp_min(1).to(losses.dtype)
        return total / losses.numel()

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction}


def _broadcast_weight(sample_weight: Tensor | None, losses: Tensor) -> Tensor | None:
    if sample_weight is None:
        return None
    w = sample_weight.to(losses.dtype)
    while w.dim() > losses.dim() and w.shape[-1] == 1:
        w = w.squeeze(-1)
    while w.dim() < losses.dim():
        w = w.unsqueeze(-1)  # one weight per sample, shared by its time steps
    return w


class _CrossentropyBase(Loss):
    def __init__(
        self, from_logits: bool = False, label_smoothing: float = 0.0, reduction: str = "sum_over_batch_size"
    ) -> None:
        super().__init__(reduction)
        self.from_logits = bool(from_logits)
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ConfigError(invalid("label_smoothing", label_smoothing, "a float in [0, 1)"))
        self.label_smoothing = float(label_smoothing)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
        }


class BinaryCrossentropy(_CrossentropyBase):
    name = "binary_crossentropy"
    aliases = ("bce", "BinaryCrossentropy")
    accuracy = "binary_accuracy"

    def per_sample(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        y_true = match_rank(y_true, y_pred).to(y_pred.dtype)
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        if self.from_logits:
            bce = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
        else:
            p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
            bce = -(y_true * torch.log(p) + (1.0 - y_true) * torch.log1p(-p))
        return bce.mean(dim=-1)

    def check_labels(self, y_true: Tensor, y_pred: Tensor) -> None:
        super().check_labels(y_true, y_pred)
        if y_true.dtype != torch.bool:
            bad = (y_true < 0) | (y_true > 1)
            if bool(bad.any()):
                value = float(y_true[bad].flatten()[0])
                raise DataError(
                    invalid("y", f"a label {value:g}", f"labels in [0, 1] for loss={self.name!r}")
                )


class CategoricalCrossentropy(_CrossentropyBase):
    name = "categorical_crossentropy"
    aliases = ("cce", "CategoricalCrossentropy")
    accuracy = "categorical_accuracy"

    def per_sample(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        y_true = y_true.to(y_pred.dtype)
        if self.label_smoothing:
            C = y_pred.shape[-1]
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / C
        if self.from_logits:
            logp = F.log_softmax(y_pred, dim=-1)
        else:
            p = y_pred / y_pred.sum(dim=-1, keepdim=True)
            logp = torch.log(p.clamp(EPSILON, 1.0 - EPSILON))
        return -(y_true * logp).sum(dim=-1)

    def check_labels(self, y_true: Tensor, y_pred: Tensor) -> None:
        super().check_labels(y_true, y_pred)
        if y_true.shape != y_pred.shape:
            expected = f"one-hot labels of shape {tuple(y_pred.shape)} for loss={self.name!r}"
            if y_true.dim() == y_pred.dim() - 1:
                expected += " (integer class ids need loss='sparse_categorical_crossentropy')"
            raise DataError(invalid("y", f"labels of shape {tuple(y_true.shape)}", expected))


class SparseCategoricalCrossentropy(_CrossentropyBase):
    name = "sparse_categorical_crossentropy"
    aliases = ("scce", "SparseCategoricalCrossentropy")
    accuracy = "sparse_categorical_accuracy"

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction: str = "sum_over_batch_size",
    ) -> None:
        super().__init__(from_logits=from_logits, reduction=reduction)
        self.ignore_class = ignore_class

    def per_sample(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        if y_true.dim() == y_pred.dim():  # (B, 1) ids against (B, C) predictions
            y_true = y_true.squeeze(-1)
        ids = y_true.long()
        if self.from_logits:
            logp = F.log_softmax(y_pred, dim=-1)
        else:
            p = y_pred / y_pred.sum(dim=-1, keepdim=True)
            logp = torch.log(p.clamp(EPSILON, 1.0 - EPSILON))
        if self.ignore_class is not None:
            keep = ids != self.ignore_class
            ids = ids.masked_fill(~keep, 0)
            return -logp.gather(-1, ids.unsqueeze(-1)).squeeze(-1) * keep.to(logp.dtype)
        return -logp.gather(-1, ids.unsqueeze(-1)).squeeze(-1)

    def check_labels(self, y_true: Tensor, y_pred: Tensor) -> None:
        super().check_labels(y_true, y_pred)
        if y_true.is_floating_point() and bool((y_true != y_true.round()).any()):
            raise DataError(
                invalid(
                    "y",
                    f"float labels of shape {tuple(y_true.shape)}",
                    f"integer class ids for loss={self.name!r} (one-hot labels need "
                    "loss='categorical_crossentropy')",
                )
            )
        ids = y_true.long()
        if self.ignore_class is not None:
            ids = ids[ids != self.ignore_class]
        C = y_pred.shape[-1]
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= C):
            bad = int(ids.max()) if int(ids.max()) >= C else int(ids.min())
            raise DataError(invalid("y", f"a class id {bad}", f"ids in [0, {C}) for {C} output units"))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("label_smoothing")
        return {**config, "ignore_class": self.ignore_class}


class MeanSquaredError(Loss):
    name = "mean_squared_error"
    aliases = ("mse", "MeanSquaredError")

    def per_sample(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return (match_rank(y_true, y_pred).to(y_pred.dtype) - y_pred).square().mean(dim=-1)


class MeanAbsoluteError(Loss):
    name = "mean_absolute_error"
    aliases = ("mae", "MeanAbsoluteError")

    def per_sample(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return (match_rank(y_true, y_pred).to(y_pred.dtype) - y_pred).abs().mean(dim=-1)


class Huber(Loss):
    name = "huber"
    aliases = ("huber_loss", "Huber")

    def __init__(self, delta: float = 1.0, reduction: str = "sum_over_batch_size") -> None:
        super().__init__(reduction)
        self.delta = float(delta)

    def per_sample(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        y_true = match_rank(y_true, y_pred).to(y_pred.dtype)
        return F.huber_loss(y_pred, y_true, reduction="none", delta=self.delta).mean(dim=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "delta": self.delta}


class FunctionLoss(Loss):
    """Wraps a user function ``fn(y_true, y_pred) -> per-sample losses`` (Keras accepts those too)."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn
        self.display_name = getattr(fn, "__name__", "loss")

    def per_sample(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        out = self.fn(y_true, y_pred)
        return out if out.dim() else out.reshape(1)


class TorchLoss(Loss):
    """A ``torch.nn`` loss module (``nn.CrossEntropyLoss()`` ...) used as a Keras loss.

    torch's losses take ``(input, target)``, Keras's ``(y_true, y_pred)``: the module is
    called as ``module(y_pred, y_true)`` and reduces by its own ``reduction``. Masks and
    ``sample_weight`` cannot reach inside it, so ``sample_weight`` is refused.
    """

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module
        self.display_name = type(module).__name__

    def check_labels(self, y_true: Tensor, y_pred: Tensor) -> None:
        """torch's loss checks its own inputs (e.g. CrossEntropyLoss's (B, C, T) layout)."""

    def __call__(
        self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        if sample_weight is not None:
            raise ConfigError(
                invalid("sample_weight", "given", f"None with a torch loss ({self.display_name} reduces it)")
            )
        return self.module(y_pred, y_true)


def get(identifier: Any) -> Loss:
    """A name, a ``{"class_name", "config"}`` dict, a :class:`Loss`, a function
    ``fn(y_true, y_pred)`` or a ``torch.nn`` loss module (see :class:`TorchLoss`)."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, torch.nn.Module):
        return TorchLoss(identifier)
    if isinstance(identifier, str):
        cls = LOSSES.get(identifier)
        if cls is None:
            raise ConfigError(invalid("loss", identifier, sorted(k for k in LOSSES if k.islower())))
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = LOSSES.get(identifier["class_name"])
        if cls is None:
            raise ConfigError(
                invalid("loss", identifier["class_name"], sorted(k for k in LOSSES if k.islower()))
            )
        return cls(**identifier.get("config", {}))
    if callable(identifier):
        return FunctionLoss(identifier)
    raise ConfigError(invalid("loss", identifier, sorted(k for k in LOSSES if k.islower())))


def serialize(loss: Loss) -> dict[str, Any] | None:
    """JSON-able form, or None for a user function (it is then not saved)."""
    if isinstance(loss, (FunctionLoss, TorchLoss)):
        return None
    return {"class_name": loss.name, "config": loss.get_config()}


# Keras's functional forms: per-sample losses.
def binary_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    return BinaryCrossentropy(from_logits=from_logits).per_sample(y_true, y_pred)


def categorical_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    return CategoricalCrossentropy(from_logits=from_logits).per_sample(y_true, y_pred)


def sparse_categorical_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    return SparseCategoricalCrossentropy(from_logits=from_logits).per_sample(y_true, y_pred)


def mean_squared_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return MeanSquaredError().per_sample(y_true, y_pred)


def mean_absolute_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return MeanAbsoluteError().per_sample(y_true, y_pred)
