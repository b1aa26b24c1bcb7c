"""The layer contract: a Keras layer that is also a plain ``torch.nn.Module``.

- Weights are created by ``build(input_shape)``, on the first call from the
  input's shape, device and floating dtype (or at construction when
  ``input_shape=`` is given, or by calling ``build`` yourself before making an
  optimizer from ``parameters()``).
- Subclasses implement ``call(inputs, ...)``; ``forward`` (what ``layer(x)`` runs)
  builds if needed, resolves ``training`` (``None`` -> ``self.training``) and
  ``mask``, and passes them to ``call`` only if its signature names them.
- Masks travel as Keras's do: the output tensor carries ``_keras_mask`` (from
  ``compute_mask``), and a layer that supports masking reads it from its input
  when no ``mask=`` is passed. So ``Embedding(mask_zero=True)`` followed by
  ``LSTM`` masks the padding with no extra code, in a ``Sequential`` or not.
- ``add_weight`` records regularizers (``regularization_loss()``) and constraints
  (``apply_constraints()``, run by ``fit`` after each optimizer step).
- ``get_config()``/``from_config()`` round-trip every constructor argument.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import nn

from rnnkit.core import constraints as constraints_mod
from rnnkit.core import initializers as init_mod
from rnnkit.core import regularizers as reg_mod
from rnnkit.errors import ConfigError, ShapeError, invalid
from rnnkit.layers import symbolic

Tensor = torch.Tensor
Shape = tuple[int | None, ...]

LAYERS: dict[str, type[Layer]] = {}
_NAME_COUNTS: dict[str, int] = {}


def _snake(name: str) -> str:
    # No break between a digit and a capital, as Keras: Conv1D -> conv1d, ConvLSTM2D -> conv_lstm2d.
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()


def unique_name(base: str) -> str:
    """Keras-style automatic names: lstm, lstm_1, lstm_2 ..."""
    n = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def get_mask(x: Any) -> Tensor | None:
    """The Keras mask a tensor carries, if any."""
    return getattr(x, "_keras_mask", None)


def set_mask(x: Any, mask: Tensor | None) -> None:
    """Attach ``mask`` to ``x`` (or to the first tensor of a tuple/list), as Keras does."""
    if isinstance(x, (tuple, list)) and x:
        x = x[0]
    if isinstance(x, Tensor):
        if mask is None:
            if hasattr(x, "_keras_mask"):
                del x._keras_mask
        else:
            x._keras_mask = mask  # type: ignore[attr-defined]


class Weights:
    """``count_params`` / ``get_weights`` / ``set_weights``: one definition for layers and models.

    Mixed into :class:`Layer` and ``rnnkit.models.Model`` (both ``torch.nn.Module``s), so a
    model and a layer count, read and check weights identically.
    """

    def count_params(self) -> int:
        return sum(p.numel() for p in self.parameters())  # type: ignore[attr-defined]

    def get_weights(self) -> list[Any]:
        """The weights as NumPy arrays, in registration order (torch layout)."""
        return [p.detach().cpu().numpy() for p in self.parameters()]  # type: ignore[attr-defined]

    @torch.no_grad()
    def set_weights(self, weights: list[Any]) -> None:
        """Copy ``weights`` (in :meth:`get_weights`'s order) in; the count and every shape must match."""
        params = list(self.parameters())  # type: ignore[attr-defined]
        if len(weights) != len(params):
            raise ShapeError(invalid("weights", f"a list of {len(weights)} arrays", f"{len(params)} arrays"))
        for p, w in zip(params, weights, strict=True):
            t = torch.as_tensor(w, dtype=p.dtype, device=p.device)
            if t.shape != p.shape:
                raise ShapeError(invalid("weights", tuple(t.shape), f"shape {tuple(p.shape)}"))
            p.copy_(t)


class Layer(Weights, nn.Module):
    """Base class of every rnnkit layer (and cell)."""

    supports_masking: ClassVar[bool] = False
    _call_params: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        LAYERS[cls.__name__] = cls
        cls._call_params = frozenset(inspect.signature(cls.call).parameters)
        init = cls.__dict__.get("__init__")
        if init is not None:
            cls.__init__ = _build_after_init(init)  # type: ignore[method-assign]

    def __init__(
        self,
        *,
        name: str | None = None,
        trainable: bool = True,
        input_shape: Shape | None = None,
        activity_regularizer: Any = None,
        dtype: Any = None,  # accepted for Keras compatibility; weights follow the input's dtype
    ) -> None:
        super().__init__()
        if name is not None and not isinstance(name, str):
            raise ConfigError(invalid("name", name, "a string or None"))
        self.name = name or unique_name(_snake(type(self).__name__))
        self.built = False
        self.build_input_shape: Shape | None = None
        self._trainable = bool(trainable)
        self._input_shape_arg = None if input_shape is None else tuple(input_shape)
        self.activity_regularizer = reg_mod.get(activity_regularizer, argument="activity_regularizer")
        self._regularizers: dict[str, Any] = {}
        self._constraints: dict[str, Any] = {}
        self._non_trainable: set[str] = set()  # weights made with trainable=False (moving statistics)
        self._activity_losses: list[Tensor] = []
        self._factory: dict[str, Any] = {}

    # ----------------------------------------------------------------- building
    def build(self, input_shape: Shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch first; None = any)."""
        self.build_input_shape = tuple(input_shape)
        self.built = True

    def build_sublayer(self, layer: Layer, input_shape: Shape) -> None:
        """Build ``layer`` (a cell or a wrapped layer) once, on this layer's device and dtype."""
        if not layer.built:
            layer._factory = self._factory
            layer.build(input_shape)
            layer.built = True

    def _build_from(self, inputs: Any) -> None:
        first = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
        if isinstance(first, Tensor):
            dtype = first.dtype if first.is_floating_point() else torch.get_default_dtype()
            self._factory = {"device": first.device, "dtype": dtype}
        if isinstance(inputs, (tuple, list)):
            shape: Any = [tuple(t.shape) for t in inputs]
        else:
            shape = tuple(inputs.shape)
        self.build(shape)
        self.built = True
        self.trainable = self._trainable

    def add_weight(
        self,
        name: str,
        shape: tuple[int, ...],
        initializer: Any = "zeros",
        *,
        regularizer: Any = None,
        constraint: Any = None,
        trainable: bool = True,
    ) -> nn.Parameter:
        """Create, initialize and register a weight (a ``torch.nn.Parameter``)."""
        init = init_mod.get(initializer)
        value = init(tuple(shape), **self._factory)
        param = nn.Parameter(value, requires_grad=trainable and self._trainable)
        self.register_parameter(name, param)
        if not trainable:
            self._non_trainable.add(name)
        if regularizer is not None:
            self._regularizers[name] = regularizer
        if constraint is not None:
            self._constraints[name] = constraint
        return param

    # ---------------------------------------------------------------- calling
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Called on symbolic tensors (functional API): record the call instead of computing.
        if symbolic.active and symbolic.any_symbolic(args, kwargs):
            return symbolic.symbolic_call(self, args, kwargs)
        return super().__call__(*args, **kwargs)

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @property
    def output(self) -> Any:
        """Keras's ``layer.output``: the symbolic output of its one call in a functional graph."""
        return symbolic.node_of(self, "output").outputs_structure

    @property
    def input(self) -> Any:
        """Keras's ``layer.input``: the symbolic input of its one call in a functional graph."""
        return symbolic.node_of(self, "input").args[0]

    def forward(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        training = kwargs.pop("training", None)
        mask = kwargs.pop("mask", None)
        if training is None:
            training = self.training
        if mask is None:
            mask = get_mask(inputs)
        if not self.built:
            self._build_from(inputs)
        if "training" in self._call_params:
            kwargs["training"] = bool(training)
        if "mask" in self._call_params:
            kwargs["mask"] = mask
        outputs = self.call(inputs, *args, **kwargs)
        if self.activity_regularizer is not None:
            first = outputs[0] if isinstance(outputs, (tuple, list)) else outputs
            self._activity_losses = [self.activity_regularizer(first) / max(1, first.shape[0])]
        set_mask(outputs, self.compute_mask(inputs, mask))
        return outputs

    def compute_mask(self, inputs: Any, mask: Tensor | None = None) -> Tensor | None:
        """The mask of the output: passed through if the layer supports masking."""
        return mask if self.supports_masking else None

    def compute_output_shape(self, input_shape: Shape) -> Any:
        """Output shape for an input shape (None = unknown), without running the layer."""
        raise NotImplementedError(f"{type(self).__name__} does not implement compute_output_shape")

    # ----------------------------------------------------- weights and training
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for name, p in self.named_parameters(recurse=False):
            p.requires_grad_(self._trainable and name not in self._non_trainable)
        for m in self.children():
            if isinstance(m, Layer):
                m.trainable = value

    def rnnkit_layers(self) -> Iterator[Layer]:
        """This layer and every rnnkit layer inside it."""
        for m in self.modules():
            if isinstance(m, Layer):
                yield m

    def regularization_loss(self) -> Tensor | float:
        """Weight penalties and the last call's activity penalties of this layer and its sublayers."""
        total: Tensor | float = 0.0
        for layer in self.rnnkit_layers():
            for pname, reg in layer._regularizers.items():
                total = total + reg(getattr(layer, pname))
            for loss in layer._activity_losses:
                total = total + loss
        return total

    @property
    def losses(self) -> list[Tensor]:
        """Keras's ``layer.losses``: the penalty terms, one tensor each."""
        out: list[Tensor] = []
        for layer in self.rnnkit_layers():
            out += [reg(getattr(layer, n)) for n, reg in layer._regularizers.items()]
            out += list(layer._activity_losses)
        return out

    @torch.no_grad()
    def apply_constraints(self) -> None:
        """Project constrained weights back onto their sets (after an optimizer step)."""
        for layer in self.rnnkit_layers():
            for pname, c in layer._constraints.items():
                constraints_mod.apply(c, getattr(layer, pname))

    # ---------------------------------------------------------- serialization
    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = reg_mod.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


def _build_after_init(init: Any) -> Any:
    """Wrap a subclass ``__init__`` so ``input_shape=`` builds once the outermost init is done."""

    @functools.wraps(init)
    def wrapped(self: Layer, *args: Any, **kwargs: Any) -> None:
        depth = self.__dict__.get("_init_depth", 0)
        object.__setattr__(self, "_init_depth", depth + 1)
        try:
            init(self, *args, **kwargs)
        finally:
            object.__setattr__(self, "_init_depth", depth)
        if depth == 0 and self._input_shape_arg is not None and not self.built:
            self.build((None, *self._input_shape_arg))
            self.built = True
            self.trainable = self._trainable

    return wrapped


def serialize_layer(layer: Layer) -> dict[str, Any]:
    """``{"class_name", "config", "build_config"}``: enough to rebuild the layer with no weights."""
    return {
        "class_name": type(layer).__name__,
        "config": layer.get_config(),
        "build_config": {"input_shape": layer.build_input_shape},
    }


def deserialize_layer(data: dict[str, Any]) -> Layer:
    """Rebuild a layer (and build it, if it had been built) from :func:`serialize_layer`'s dict."""
    cls = LAYERS.get(data.get("class_name", ""))
    if cls is None:
        raise ConfigError(invalid("class_name", data.get("class_name"), sorted(LAYERS)))
    layer = cls.from_config(dict(data["config"]))
    shape = (data.get("build_config") or {}).get("input_shape")
    if shape is not None and not layer.built:
        layer.build(_as_shape(shape))
        layer.built = True
        layer.trainable = layer._trainable
    return layer


def _as_shape(shape: Any) -> Any:
    if isinstance(shape, list) and shape and isinstance(shape[0], (list, tuple)):
        return [tuple(s) for s in shape]
    return tuple(shape)
