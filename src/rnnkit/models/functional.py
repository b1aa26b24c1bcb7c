"""Keras's functional API: ``Model(inputs, outputs)`` over a graph of layer calls.

    encoder_inputs = Input(shape=(None, 71))
    _, h, c = LSTM(256, return_state=True)(encoder_inputs)
    decoder_inputs = Input(shape=(None, 93))
    seq = LSTM(256, return_sequences=True)(decoder_inputs, initial_state=[h, c])
    model = Model([encoder_inputs, decoder_inputs], Dense(93, activation="softmax")(seq))

Calling a layer on symbolic tensors records a Node (``rnnkit.layers.symbolic``);
:class:`Functional` walks the Nodes back from the outputs, keeps them in an order
where every Node comes after the Nodes it reads, and replays them on real tensors.
A layer called twice (shared between branches) has two Nodes and one set of weights.
Masks ride on the tensors as everywhere in rnnkit, so ``Embedding(mask_zero=True)``
masks the ``LSTM`` it feeds with no extra code.

The config is Keras 3's (``layers`` with ``inbound_nodes``, ``input_layers``,
``output_layers``), so the same code reads rnnkit's ``to_json`` and Keras's
``config.json``.
"""

from __future__ import annotations

import json
from typing import Any

import torch
from torch import nn

from rnnkit.errors import ConfigError, invalid
from rnnkit.layers.base import Layer, deserialize_layer, serialize_layer
from rnnkit.layers.core_layers import InputLayer, input_tensor
from rnnkit.layers.symbolic import KerasTensor, Node, flatten, map_structure, pack_as
from rnnkit.models import saving
from rnnkit.models.model import Model, _fmt_shape
from rnnkit.models.saving import MODELS

__all__ = ["Functional", "model_from_json"]


class Functional(Model):
    """A model defined by its input and output symbolic tensors (``Model(inputs, outputs)``)."""

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None, trainable: bool = True) -> None:
        super().__init__(name=name)
        for what, value in (("inputs", inputs), ("outputs", outputs)):
            leaves = flatten(value)
            if not leaves or not all(isinstance(t, KerasTensor) for t in leaves):
                raise ConfigError(
                    invalid(what, _describe(value), "symbolic tensors from Input(...) and layer calls")
                )
        for t in flatten(inputs):
            if not t.node.is_input:
                raise ConfigError(
                    invalid("inputs", repr(t), "tensors made by Input(...), not by a layer call")
                )
        self._input_struct = _as_list_if_tuple(inputs)
        self._output_struct = _as_list_if_tuple(outputs)
        self._input_tensors: list[KerasTensor] = flatten(inputs)
        self._output_tensors: list[KerasTensor] = flatten(outputs)
        self._nodes = _ordered_nodes(self._input_tensors, self._output_tensors)
        ordered: list[Layer] = [t.node.layer for t in self._input_tensors]
        for node in self._nodes:
            if node.layer not in ordered:
                ordered.append(node.layer)
        self.layers = nn.ModuleList(ordered)
        if not trainable:
            for layer in ordered:
                layer.trainable = False

    # ------------------------------------------------------------------ structure
    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._input_tensors)

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._output_tensors)

    @property
    def input(self) -> Any:
        """Keras's ``model.input``: the Input tensor, or the list/dict of them."""
        return self._input_struct

    @property
    def output(self) -> Any:
        """Keras's ``model.output``: the output tensor, or the list/dict of them."""
        return self._output_struct

    @property
    def input_names(self) -> list[str]:
        if isinstance(self._input_struct, dict):
            return list(self._input_struct)
        return [t.node.layer.name for t in self._input_tensors]

    @property
    def output_names(self) -> list[str]:
        if isinstance(self._output_struct, dict):
            return list(self._output_struct)
        return [t._keras_history[0].name for t in self._output_tensors]  # type: ignore[index]

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            return self.layers[index]  # type: ignore[return-value]
        for layer in self.layers:
            if layer.name == name:
                return layer  # type: ignore[return-value]
        raise ConfigError(invalid("name", name, [layer.name for layer in self.layers]))

    # ------------------------------------------------------------------ calling
    def forward(self, *args: Any, training: bool | None = None, mask: Any = None, **named: Any) -> Any:
        values = self._bind_inputs(args, named)
        if mask is not None:
            for t, m in zip(self._input_tensors, flatten(mask), strict=False):
                if m is not None:
                    values[id(t)]._keras_mask = m
        for node in self._nodes:
            call_args = map_structure(lambda v: values[id(v)] if isinstance(v, KerasTensor) else v, node.args)
            call_kwargs = map_structure(
                lambda v: values[id(v)] if isinstance(v, KerasTensor) else v, node.kwargs
            )
            if training is not None and isinstance(node.layer, Layer) and "training" not in call_kwargs:
                call_kwargs["training"] = training
            out = node.layer(*call_args, **call_kwargs)
            for t, v in zip(node.outputs, flatten(out), strict=True):
                values[id(t)] = v
        result = pack_as(self._output_struct, [values[id(t)] for t in self._output_tensors])
        return result

    def _bind_inputs(self, args: tuple[Any, ...], named: dict[str, Any]) -> dict[int, Any]:
        n = len(self._input_tensors)
        if len(args) == 1 and n > 1 and isinstance(args[0], (list, tuple, dict)):
            args = (args[0],) if isinstance(args[0], dict) else tuple(args[0])  # model([a, b]) as Keras
        if len(args) == 1 and isinstance(args[0], dict) and not named:
            named, args = dict(args[0]), ()
        if named:
            if args:
                raise ConfigError(invalid("inputs", "positional and named inputs", "one or the other"))
            names = self.input_names
            unknown = sorted(set(named) - set(names))
            if unknown or len(named) != n:
                raise ConfigError(invalid("inputs", sorted(named), f"the inputs {names}"))
            # flat order: a dict's keys sorted (as flatten orders them), else the Input names
            flat_names = sorted(names) if isinstance(self._input_struct, dict) else names
            args = tuple(named[k] for k in flat_names)
        if len(args) != n:
            raise ConfigError(
                invalid("inputs", f"{len(args)} tensors", f"{n} (one per Input: {self.input_names})")
            )
        values: dict[int, Any] = {}
        for t, v in zip(self._input_tensors, args, strict=True):
            if not isinstance(v, torch.Tensor):
                v = torch.as_tensor(v)
            if t.dtype == "float32" and v.dtype in (torch.float64, torch.bool):
                v = v.float()  # NumPy's float64 or one-hot booleans into a float32 Input, as Keras converts
            values[id(t)] = v
        return values

    def call(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def _input_structure(self, x: Any) -> Any:
        # Keras: a list with one array per Input is the model's inputs, never a list of samples.
        if isinstance(x, list) and len(x) == len(self._input_tensors) > 1:
            return tuple(x)
        return x

    # ------------------------------------------------------------------ summary
    def _summary_rows(self) -> list[tuple[str, str, int]]:
        rows = []
        for layer in self.layers:
            nodes = [n for n in getattr(layer, "_inbound_nodes", []) if n in self._node_set()]
            shapes = [_shape_text(n.outputs) for n in nodes]
            label = f"{layer.name} ({type(layer).__name__})"
            count = sum(p.numel() for p in layer.parameters())
            rows.append((label, ", ".join(dict.fromkeys(shapes)) or "?", count))
        return rows

    def _node_set(self) -> set[Node]:
        input_nodes = {t.node for t in self._input_tensors}
        return set(self._nodes) | input_nodes

    def _prepare(self, first_x: Any) -> None:
        super(Model, self)._prepare(first_x)  # built at construction: no shape-recording pass

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        return graph_config(self, _serialize)

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Functional:
        return functional_from_config(config, _deserialize, cls)


# ---------------------------------------------------------------------- graph helpers
def _serialize(layer: Any) -> dict[str, Any]:
    """A layer's entry; a whole model used as a layer is saved by its class name and config."""
    return saving.class_entry(layer) if isinstance(layer, Model) else serialize_layer(layer)


def _deserialize(entry: dict[str, Any]) -> Any:
    # Only a model's entry has a class_path (saving.class_entry); a layer's is looked up among the
    # layers, so a user's Model subclass that shares a layer's name ("Dense") never captures it.
    cls = saving.model_class(entry, None) if "class_path" in entry else None
    if cls is not None:
        return cls.from_config(entry["config"])
    return deserialize_layer(entry)


def _as_list_if_tuple(obj: Any) -> Any:
    return list(obj) if isinstance(obj, tuple) else obj


def _describe(value: Any) -> str:
    leaves = flatten(value)
    bad = next((v for v in leaves if not isinstance(v, KerasTensor)), None)
    return f"a {type(bad).__name__}" if bad is not None else "nothing"


def _ordered_nodes(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> list[Node]:
    """The Nodes between inputs and outputs, each after the Nodes it reads (depth-first)."""
    input_ids = {id(t) for t in inputs}
    order: list[Node] = []
    done: set[int] = set()
    active: set[int] = set()

    def visit(t: KerasTensor) -> None:
        if id(t) in input_ids:
            return
        node = t.node
        if node.is_input:
            raise ConfigError(
                f"graph disconnected: output depends on Input {t.node.layer.name!r}, which is not "
                f"among the model's inputs {[i.node.layer.name for i in inputs]}."
            )
        if id(node) in done:
            return
        if id(node) in active:
            raise ConfigError(f"the graph has a cycle through layer {node.layer.name!r}.")
        active.add(id(node))
        for dep in node.inputs:
            visit(dep)
        active.discard(id(node))
        done.add(id(node))
        order.append(node)

    for t in outputs:
        visit(t)
    return order


def _shape_text(tensors: list[KerasTensor]) -> str:
    shapes = [t.shape for t in tensors]
    return _fmt_shape(list(shapes) if len(shapes) > 1 else shapes[0])


def graph_config(model: Functional, serialize: Any) -> dict[str, Any]:
    """Keras 3's functional config: every layer with its ``inbound_nodes``, and the io tensors.

    ``serialize(layer) -> {"class_name", "config", ...}`` chooses the layer format (rnnkit's
    own, or Keras's for a ``.keras`` file).
    """
    in_model = model._node_set()
    node_index: dict[int, int] = {}
    for layer in model.layers:
        kept = [n for n in getattr(layer, "_inbound_nodes", []) if n in in_model]
        for i, n in enumerate(kept):
            node_index[id(n)] = i

    def tensor_ref(t: KerasTensor) -> list[Any]:
        layer, _, tensor_index = t._keras_history  # type: ignore[misc]
        return [layer.name, node_index[id(t.node)], tensor_index]

    def arg(v: Any) -> Any:
        if isinstance(v, KerasTensor):
            return {
                "class_name": "__keras_tensor__",
                "config": {"shape": list(v.shape), "dtype": v.dtype, "keras_history": tensor_ref(v)},
            }
        if isinstance(v, torch.Tensor):
            raise ConfigError(
                f"a layer in model {model.name!r} was called with a constant tensor argument: "
                "only symbolic tensors and JSON values can be saved in a config."
            )
        return v

    layers = []
    for layer in model.layers:
        entry = dict(serialize(layer))
        entry["name"] = layer.name
        nodes = [n for n in getattr(layer, "_inbound_nodes", []) if n in in_model]
        entry["inbound_nodes"] = [
            {"args": [map_structure(arg, a) for a in n.args], "kwargs": map_structure(arg, n.kwargs)}
            for n in nodes
            if not n.is_input
        ]
        layers.append(entry)

    def io(struct: Any) -> Any:
        if isinstance(struct, KerasTensor):
            return [tensor_ref(struct)]
        if isinstance(struct, dict):
            return {k: tensor_ref(v) for k, v in struct.items()}
        return [tensor_ref(t) for t in struct]

    return {
        "name": model.name,
        "trainable": all(layer.trainable for layer in model.layers if isinstance(layer, Layer)),
        "layers": layers,
        "input_layers": io(model._input_struct),
        "output_layers": io(model._output_struct),
    }


def functional_from_config(
    config: dict[str, Any], deserialize: Any, cls: type[Functional] = Functional
) -> Functional:
    """Rebuild the graph: make each layer, then replay its nodes once their inputs exist."""
    made: dict[str, Layer] = {}
    produced: dict[tuple[str, int], list[KerasTensor]] = {}
    pending: list[tuple[str, int, dict[str, Any]]] = []
    for entry in config.get("layers", []):
        name = entry.get("name") or entry["config"]["name"]
        if entry.get("class_name") == "InputLayer":
            cfg = {k: v for k, v in entry["config"].items() if k not in ("optional",)}
            layer: Layer = InputLayer(**cfg)
            produced[(name, 0)] = [input_tensor(layer)]  # type: ignore[arg-type]
        else:
            layer = deserialize(entry)
            for i, node in enumerate(entry.get("inbound_nodes", [])):
                pending.append((name, i, _node_data(node)))
        made[name] = layer

    def resolve(v: Any) -> Any:
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            lname, nidx, tidx = v["config"]["keras_history"]
            return produced[(lname, nidx)][tidx]
        if isinstance(v, dict):
            return {k: resolve(x) for k, x in v.items()}
        if isinstance(v, list):
            return [resolve(x) for x in v]
        return v

    def ready(v: Any) -> bool:
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            lname, nidx, _ = v["config"]["keras_history"]
            return (lname, nidx) in produced
        if isinstance(v, dict):
            return all(ready(x) for x in v.values())
        if isinstance(v, list):
            return all(ready(x) for x in v)
        return True

    while pending:
        progressed = False
        for item in list(pending):
            name, i, data = item
            if ready(data["args"]) and ready(data["kwargs"]):
                out = made[name](*resolve(data["args"]), **resolve(data["kwargs"]))
                produced[(name, i)] = flatten(out)
                pending.remove(item)
                progressed = True
        if not progressed:
            raise ConfigError(
                f"the config's graph cannot be rebuilt: layers {sorted({p[0] for p in pending})} "
                "wait on tensors that no layer produces."
            )

    def io(refs: Any) -> Any:
        if isinstance(refs, dict):
            return {k: io(v) for k, v in refs.items()}
        if len(refs) == 3 and isinstance(refs[0], str):
            return produced[(refs[0], int(refs[1]))][int(refs[2])]
        items = [io(r) for r in refs]
        return items[0] if len(items) == 1 else items

    return cls(
        io(config["input_layers"]),
        io(config["output_layers"]),
        name=config.get("name"),
        trainable=config.get("trainable", True),
    )


def _node_data(node: Any) -> dict[str, Any]:
    """Keras 3's ``{"args", "kwargs"}`` node, or Keras 2's ``[[name, node, tensor, kwargs], ...]``."""
    if isinstance(node, dict):
        return {"args": list(node.get("args", [])), "kwargs": dict(node.get("kwargs", {}))}
    refs = [{"class_name": "__keras_tensor__", "config": {"keras_history": [r[0], r[1], r[2]]}} for r in node]
    kwargs = dict(node[0][3]) if node and len(node[0]) > 3 else {}
    kwargs = {k: _keras2_kwarg(v) for k, v in kwargs.items()}
    return {"args": [refs[0] if len(refs) == 1 else refs], "kwargs": kwargs}


def _keras2_kwarg(v: Any) -> Any:
    # Keras 2 writes tensors in call kwargs (initial_state) as [name, node, tensor] triples.
    if isinstance(v, list) and len(v) == 3 and isinstance(v[0], str) and isinstance(v[1], int):
        return {"class_name": "__keras_tensor__", "config": {"keras_history": v}}
    if isinstance(v, list):
        return [_keras2_kwarg(x) for x in v]
    return v


def model_from_json(json_string: str, custom_objects: dict[str, Any] | None = None) -> Model:
    """Keras's ``models.model_from_json``: a model (no weights) from ``to_json()``'s text."""
    try:
        data = json.loads(json_string)
    except json.JSONDecodeError as exc:
        raise ConfigError(invalid("json_string", json_string[:40], "the JSON of model.to_json()")) from exc
    cls = saving.model_class(data, custom_objects) if isinstance(data, dict) else None
    if cls is None:
        classes = {**MODELS, **(custom_objects or {})}
        raise ConfigError(
            invalid("class_name", data.get("class_name") if isinstance(data, dict) else data, sorted(classes))
        )
    return cls.from_config(data.get("config", {}))
