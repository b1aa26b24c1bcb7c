"""Optimizers with Keras 3's names, arguments and defaults, run by ``torch.optim``.

An optimizer here is a small description (:class:`Optimizer`) that ``fit`` turns
into a ``torch.optim`` optimizer once the model's weights exist (they are built on
the first call). Weight decay is decoupled for every optimizer, as in Keras 3.
Gradient clipping follows Keras:

- ``clipvalue=c``: g <- clip(g, -c, c), per element;
- ``clipnorm=c``: g <- g * c / max(||g||, c), per weight tensor;
- ``global_clipnorm=c``: all gradients scaled by c / max(||g||_global, c).

.. note:: Keras's Adam adds epsilon to sqrt(v_t) *before* the bias correction
   (lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t); w -= lr_t m / (sqrt(v) + eps)),
   torch's adds it after. With eps=1e-7 the two differ only while v is ~eps^2.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch

from rnnkit.errors import ConfigError, invalid

OPTIMIZERS: dict[str, type[Optimizer]] = {}


class Optimizer:
    """Keras-style optimizer config; :meth:`build` makes the ``torch.optim`` object."""

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    config_keys: ClassVar[tuple[str, ...]] = ()  # a subclass's own arguments, saved by get_config

    def __init__(
        self,
        learning_rate: float = 0.001,
        *,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
    ) -> None:
        self.learning_rate = _positive("learning_rate", learning_rate)
        self.weight_decay = None if weight_decay is None else _non_negative("weight_decay", weight_decay)
        self.clipnorm = None if clipnorm is None else _positive("clipnorm", clipnorm)
        self.clipvalue = None if clipvalue is None else _positive("clipvalue", clipvalue)
        self.global_clipnorm = (
            None if global_clipnorm is None else _positive("global_clipnorm", global_clipnorm)
        )
        if self.clipnorm is not None and self.global_clipnorm is not None:
            raise ConfigError(
                invalid("clipnorm", clipnorm, "None when global_clipnorm is set (Keras allows only one)")
            )
        self.torch_optimizer: torch.optim.Optimizer | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for key in (cls.name, *cls.aliases):
            if key:
                OPTIMIZERS[key] = cls

    # ------------------------------------------------------------------ torch
    def _make(self, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        raise NotImplementedError

    def build(self, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        """Create (once) the torch optimizer over ``params`` (the trainable weights)."""
        params = [p for p in params if p.requires_grad]
        if not params:
            raise ConfigError("the model has no trainable weights: nothing for the optimizer to train.")
        self.torch_optimizer = self._make(params)
        self._params = params
        return self.torch_optimizer

    @property
    def built(self) -> bool:
        return self.torch_optimizer is not None

    def clip_gradients(self) -> None:
        """Apply Keras's clipvalue / clipnorm / global_clipnorm to the gradients in place."""
        if self.clipvalue is None and self.clipnorm is None and self.global_clipnorm is None:
            return
        grads = [p for p in self._params if p.grad is not None]
        if self.clipvalue is not None:
            torch.nn.utils.clip_grad_value_(grads, self.clipvalue)
        if self.clipnorm is not None:
            for p in grads:  # Keras clips each weight's gradient on its own
                torch.nn.utils.clip_grad_norm_([p], self.clipnorm)
        if self.global_clipnorm is not None:
            torch.nn.utils.clip_grad_norm_(grads, self.global_clipnorm)

    def step(self) -> None:
        """Clip, then update the weights."""
        if self.torch_optimizer is None:
            raise ConfigError("the optimizer is not built yet: call build(model.parameters()) first.")
        self.clip_gradients()
        if self.weight_decay:
            # Keras 3 decays every optimizer's weights decoupled from the gradient, before
            # the update: w <- w - lr * wd * w (AdamW's rule), never as an L2 term in g.
            with torch.no_grad():
                torch._foreach_mul_(list[torch.Tensor](self._params), 1.0 - self.lr * self.weight_decay)
        self.torch_optimizer.step()

    def zero_grad(self) -> None:
        if self.torch_optimizer is not None:
            self.torch_optimizer.zero_grad(set_to_none=True)

    @property
    def lr(self) -> float:
        """The current learning rate (what ReduceLROnPlateau reads and writes)."""
        if self.torch_optimizer is not None:
            return float(self.torch_optimizer.param_groups[0]["lr"])
        return self.learning_rate

    @lr.setter
    def lr(self, value: float) -> None:
        self.learning_rate = float(value)
        if self.torch_optimizer is not None:
            for group in self.torch_optimizer.param_groups:
                group["lr"] = float(value)

    def get_config(self) -> dict[str, Any]:
        return {
            "learning_rate": self.learning_rate,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
            **{key: getattr(self, key) for key in self.config_keys},
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({args})"


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015). Keras defaults: lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7."""

    name = "adam"
    config_keys = ("beta_1", "beta_2", "epsilon", "amsgrad")

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = (
            float(beta_1),
            float(beta_2),
            float(epsilon),
            bool(amsgrad),
        )

    def _make(self, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.Adam(
            params,
            lr=self.learning_rate,
            betas=(self.beta_1, self.beta_2),
            eps=self.epsilon,
            amsgrad=self.amsgrad,
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): w -= lr * wd * w.
    Keras defaults: lr=0.001, weight_decay=0.004, epsilon=1e-7."""

    name = "adamw"

    def __init__(self, learning_rate: float = 0.001, weight_decay: float = 0.004, **kwargs: Any) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, **kwargs)


class SGD(Optimizer):
    """SGD with optional (Nesterov) momentum. Keras defaults: lr=0.01, momentum=0.0.

    Keras's v <- m v - lr g; w <- w + v equals torch's b <- m b + g; w <- w - lr b for a constant lr.
    """

    name = "sgd"
    config_keys = ("momentum", "nesterov")

    def __init__(
        self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.momentum, self.nesterov = _non_negative("momentum", momentum), bool(nesterov)

    def _make(self, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.SGD(
            params,
            lr=self.learning_rate,
            momentum=self.momentum,
            nesterov=self.nesterov,
        )


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012): v <- rho v + (1 - rho) g^2; w -= lr g / (sqrt(v) + eps).
    Keras defaults: lr=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False."""

    name = "rmsprop"
    config_keys = ("rho", "momentum", "epsilon", "centered")

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho, self.momentum = float(rho), _non_negative("momentum", momentum)
        self.epsilon, self.centered = float(epsilon), bool(centered)

    def _make(self, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.RMSprop(
            params,
            lr=self.learning_rate,
            alpha=self.rho,
            eps=self.epsilon,
            momentum=self.momentum,
            centered=self.centered,
        )


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(invalid(name, value, "a positive number"))
    return float(value)


def _non_negative(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(invalid(name, value, "a number >= 0"))
    return float(value)


class TorchOptimizer(Optimizer):
    """A ``torch.optim`` optimizer made by the user, used as it is (no Keras clipping or decay).

    It must have been made over the model's weights, so the model must be built first
    (call it once, ``build(input_shape)``, or start it with ``Input``): lazily built
    weights do not exist yet when the optimizer is made.
    """

    name = ""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        super().__init__(float(optimizer.param_groups[0].get("lr", 0.001)))
        self.torch_optimizer = optimizer
        self._params = [p for g in optimizer.param_groups for p in g["params"]]
        self._checked = False

    @property
    def built(self) -> bool:
        return self._checked  # fit calls build() once, which checks the weights are covered

    def build(self, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        """Check that the torch optimizer covers every trainable weight; it is already made."""
        owned = {id(p) for p in self._params}
        missing = [p for p in params if p.requires_grad and id(p) not in owned]
        if missing:
            raise ConfigError(
                invalid(
                    "optimizer",
                    f"a {type(self.torch_optimizer).__name__} over {len(owned)} tensors",
                    f"one over all the model's weights ({len(missing)} are not in it): build the model "
                    "(call it once, or build(input_shape)) before making the torch optimizer",
                )
            )
        self._checked = True
        return self.torch_optimizer  # type: ignore[return-value]

    def get_config(self) -> dict[str, Any]:
        return {"learning_rate": self.lr}


def get(identifier: Any) -> Optimizer:
    """A name ("adam"), a config dict ``{"class_name", "config"}``, an :class:`Optimizer`, or a
    ``torch.optim.Optimizer`` instance (see :class:`TorchOptimizer`)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = OPTIMIZERS.get(identifier.lower())
        if cls is None:
            raise ConfigError(invalid("optimizer", identifier, sorted(OPTIMIZERS)))
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = OPTIMIZERS.get(str(identifier["class_name"]).lower())
        if cls is None:
            raise ConfigError(invalid("optimizer", identifier["class_name"], sorted(OPTIMIZERS)))
        return cls(**identifier.get("config", {}))
    if isinstance(identifier, torch.optim.Optimizer):
        return TorchOptimizer(identifier)
    raise ConfigError(invalid("optimizer", identifier, sorted(OPTIMIZERS)))


def serialize(optimizer: Optimizer) -> dict[str, Any] | None:
    """JSON-able form, or None for a user's torch optimizer (the model then loads uncompiled)."""
    if isinstance(optimizer, TorchOptimizer):
        return None
    return {"class_name": optimizer.name, "config": optimizer.get_config()}
