"""``Sequential``: a stack of layers, each feeding the next (Keras's ``Sequential``).

    model = Sequential([layers.LSTM(64), layers.Dense(1, activation="sigmoid")])
    model.add(layers.Dropout(0.2))

Weights are built on the first call from the input's shape, or at once when the
list starts with ``layers.Input(shape=(T, F))`` (then ``summary()`` works before
any data is seen). Masks travel from layer to layer on the tensors, so
``Embedding(mask_zero=True)`` followed by recurrent layers needs no extra code.
The layers live in ``model.layers`` (an ``nn.ModuleList``; weights are named
``layers.0.weight_ih`` ...).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rnnkit.errors import ConfigError, ShapeError, invalid
from rnnkit.layers.base import Layer, deserialize_layer, serialize_layer
from rnnkit.layers.core_layers import InputLayer
from rnnkit.layers.symbolic import KerasTensor, torch_dtype
from rnnkit.models.model import Model, _fmt_shape
from rnnkit.models.training import Trainer


class Sequential(Model):
    """A linear stack of layers."""

    def __init__(self, layers: list[nn.Module] | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.layers = nn.ModuleList()
        self.input_spec: tuple[int | None, ...] | None = None  # (None, *shape) from an Input
        self._output_shapes: dict[str, Any] = {}
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise ConfigError(invalid("layers", layers, "a list of layers"))
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: nn.Module) -> None:
        """Append a layer (``Input(shape=...)`` first fixes the input shape and builds the weights)."""
        if isinstance(layer, KerasTensor):  # Input(shape=...) returns the InputLayer's tensor
            history = layer._keras_history
            if history is None or not isinstance(history[0], InputLayer):
                raise ConfigError(invalid("layer", layer, "a layer, or Input(...) as the first entry"))
            layer = history[0]
        if isinstance(layer, InputLayer):
            if len(self.layers) or self.input_spec is not None:
                raise ConfigError(invalid("layer", layer.name, "Input(...) only as the first layer"))
            self.input_spec = (layer.batch_size, *layer.shape)
            self._input_dtype = layer.dtype
            return
        if not isinstance(layer, nn.Module):
            raise ConfigError(invalid("layer", layer, "an rnnkit layer or a torch.nn.Module"))
        shape_arg = getattr(layer, "_input_shape_arg", None)
        if not len(self.layers) and self.input_spec is None and shape_arg is not None:
            self.input_spec = (None, *shape_arg)  # Keras: input_shape= on the first layer acts as an Input
        self.layers.append(layer)
        if self.input_spec is not None:
            self.build(self.input_spec)

    def pop(self) -> nn.Module:
        if not len(self.layers):
            raise ConfigError("pop() on an empty Sequential: there is no layer to remove.")
        layer = self.layers[-1]
        del self.layers[-1]
        return layer

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Create every layer's weights for inputs of ``input_shape`` (batch first, None = any).

        It runs the stack once on a zero batch (of 1 sample, 1 step where the size is None)
        in eval mode and then resets any carried state.
        """
        if len(input_shape) < 2:
            raise ShapeError(
                invalid("input_shape", tuple(input_shape), "(batch, ...) with at least 2 dimensions")
            )
        shape = tuple(1 if d is None else int(d) for d in input_shape)
        dtype = torch_dtype(self.__dict__.get("_input_dtype") or "float32")
        was_training = self.training
        self.eval()
        with torch.no_grad():
            # ones, not zeros: an integer input feeds Embedding(mask_zero=True), where 0 is padding
            self(
                torch.ones(shape, dtype=dtype)
                if not dtype.is_floating_point
                else torch.zeros(shape, dtype=dtype)
            )
        self.train(was_training)
        self._forget_states()

    def call(self, inputs: Any, training: bool | None = None, mask: torch.Tensor | None = None) -> Any:
        x = inputs
        if isinstance(x, torch.Tensor) and x.dtype == torch.bool:
            x = x.float()  # one-hot booleans (keras.io's char examples): Keras casts them to float too
        if mask is not None:
            x._keras_mask = mask
        record = len(self._output_shapes) != len(self.layers)
        for i, layer in enumerate(self.layers):
            x = layer(x, training=training) if training is not None and isinstance(layer, Layer) else layer(x)
            if record:
                self._output_shapes[str(i)] = _shape(x)
        return x

    def _summary_rows(self) -> list[tuple[str, str, int]]:
        rows = []
        for i, layer in enumerate(self.layers):
            label = f"{getattr(layer, 'name', str(i))} ({type(layer).__name__})"
            shape = self._output_shapes.get(str(i))
            rows.append((label, _fmt_shape(shape), sum(p.numel() for p in layer.parameters())))
        return rows

    def _prepare(self, first_x: Any) -> None:
        Trainer._prepare(self, first_x)  # call() records the output shapes itself

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        for layer in self.layers:
            if not isinstance(layer, Layer):
                raise ConfigError(
                    f"{type(layer).__name__} is a plain torch module: only rnnkit layers can be saved "
                    "in a Sequential's config (save_weights() still works)."
                )
        return {
            "name": self.name,
            "input_shape": None if self.input_spec is None else list(self.input_spec),
            "input_dtype": self.__dict__.get("_input_dtype"),
            "layers": [serialize_layer(layer) for layer in self.layers],  # type: ignore[arg-type]
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        model = cls(name=config.get("name"))
        if config.get("input_dtype"):
            model._input_dtype = config["input_dtype"]
        for data in config.get("layers", []):
            model.layers.append(deserialize_layer(data))
        if config.get("input_shape") is not None:
            model.input_spec = tuple(config["input_shape"])
            model.build(model.input_spec)
        return model


def _shape(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return (None, *x.shape[1:])
    if isinstance(x, (tuple, list)):
        return [_shape(t) for t in x]
    return None
