"""``Lambda``: wraps an arbitrary function of the inputs as a layer (Keras 3's ``Lambda``).

``Lambda(fn, output_shape=None, mask=None, arguments=None)`` computes
``fn(inputs, **arguments)`` (plus ``mask=`` / ``training=`` when ``fn`` names them). ``mask``
is None (the output carries no mask), a callable ``(inputs, mask) -> mask``, or a fixed mask.
The function has no weights: anything trainable belongs in a real layer.

Configs use Keras's format: a named function is saved by name
(``{"class_name": "function", "config": "<name>"}``) and resolved on loading from
``custom_objects``; a Python ``lambda`` is saved as its marshalled bytecode (Keras's
``__lambda__``, readable only by the Python version that wrote it), and loading it runs that
code, so :meth:`Lambda.from_config` refuses it unless ``safe_mode=False`` (as Keras does).
"""

from __future__ import annotations

import builtins
import codecs
import inspect
import marshal
import types
from collections.abc import Callable
from typing import Any

import torch

from rnnkit.errors import ConfigError, invalid
from rnnkit.layers.base import Layer, Shape

Tensor = torch.Tensor


def _serialize_fn(fn: Callable[..., Any]) -> dict[str, Any]:
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        code = codecs.encode(marshal.dumps(fn.__code__), "base64").decode("ascii")
        closure = None if not fn.__closure__ else tuple(c.cell_contents for c in fn.__closure__)
        return {
            "class_name": "__lambda__",
            "config": {"code": code, "defaults": fn.__defaults__, "closure": closure},
        }
    kind = "function" if isinstance(fn, types.FunctionType) else type(fn).__name__
    return {"module": "builtins", "class_name": kind, "config": fn.__name__, "registered_name": kind}


def _load_lambda(config: dict[str, Any]) -> Callable[..., Any]:
    code = marshal.loads(codecs.decode(config["code"].encode("ascii"), "base64"))
    defaults = config.get("defaults")
    closure = config.get("closure")
    cells = None if closure is None else tuple(types.CellType(v) for v in closure)
    glob = {"__builtins__": builtins, "torch": torch}
    return types.FunctionType(code, glob, code.co_name, None if defaults is None else tuple(defaults), cells)


def _deserialize_fn(
    value: Any, custom_objects: dict[str, Any] | None, safe_mode: bool, argument: str
) -> Callable[..., Any]:
    if callable(value):
        return value
    if isinstance(value, dict) and value.get("class_name") == "__lambda__":
        if safe_mode:
            raise ConfigError(
                f"{argument}: the config holds a Python lambda; loading it runs its code, so it is refused "
                "by default. Pass safe_mode=False if you trust the file, or save a named function instead."
            )
        return _load_lambda(value["config"])
    if isinstance(value, dict) and "config" in value:
        name = value["config"]
        fn = (custom_objects or {}).get(name)
        if fn is None:
            fn = (
                getattr(builtins, name, None)
                if value.get("class_name") == "builtin_function_or_method"
                else None
            )
        if fn is None:
            raise ConfigError(invalid(argument, name, "a function passed in custom_objects={name: fn}"))
        return fn
    raise ConfigError(invalid(argument, value, "a callable or a serialized function"))


class Lambda(Layer):
    """``fn(inputs, **arguments)`` as a layer."""

    def __init__(
        self,
        function: Callable[..., Any],
        output_shape: Any = None,
        mask: Any = None,
        arguments: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(function):
            raise ConfigError(invalid("function", function, "a callable"))
        self.function = function
        self.output_shape = output_shape
        self.mask = mask
        self.arguments = dict(arguments or {})
        params = inspect.signature(function).parameters
        self._wants_mask = "mask" in params
        self._wants_training = "training" in params

    @property
    def supports_masking(self) -> bool:  # type: ignore[override]
        return self.mask is not None

    def call(self, inputs: Any, mask: Any = None, training: bool = False) -> Any:
        kwargs = dict(self.arguments)
        if self._wants_mask:
            kwargs["mask"] = mask
        if self._wants_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape: Shape) -> Any:
        if self.output_shape is None:
            raise NotImplementedError(
                f"{self.name}: pass output_shape= to Lambda to know its shape without running it"
            )
        if callable(self.output_shape):
            return self.output_shape(input_shape)
        return (input_shape[0], *self.output_shape)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {**super().get_config(), "function": _serialize_fn(self.function)}
        if self.output_shape is not None:
            out = self.output_shape
            config["output_shape"] = _serialize_fn(out) if callable(out) else list(out)
        if self.mask is not None:
            config["mask"] = _serialize_fn(self.mask) if callable(self.mask) else self.mask
        config["arguments"] = self.arguments
        return config

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None, safe_mode: bool = True
    ) -> Lambda:
        config = dict(config)
        config["function"] = _deserialize_fn(config["function"], custom_objects, safe_mode, "function")
        out = config.get("output_shape")
        if isinstance(out, dict):
            config["output_shape"] = _deserialize_fn(out, custom_objects, safe_mode, "output_shape")
        elif isinstance(out, list):
            config["output_shape"] = tuple(out)
        if isinstance(config.get("mask"), dict):
            config["mask"] = _deserialize_fn(config["mask"], custom_objects, safe_mode, "mask")
        return cls(**config)
