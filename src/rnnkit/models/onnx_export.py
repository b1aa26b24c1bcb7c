"""ONNX export: ``model.export("m.onnx")`` for Sequential, functional and subclassed models.

The graph is written layer by layer with ``onnx.helper`` (no tracing): each recurrent
layer becomes ONNX's own ``RNN`` / ``LSTM`` / ``GRU`` operator, so batch size and
sequence length stay dynamic and onnxruntime runs its fused kernels.

Weights: rnnkit keeps torch's layout (``weight_ih (G, D)``, LSTM gates i f g o, GRU
r z n); ONNX wants ``W (dirs, G, D)`` with LSTM gates i o f c and GRU z r h, and
``B = [Wb, Rb]``. GRU ``reset_after=True`` is ONNX's ``linear_before_reset=1``.

Masks (``Embedding(mask_zero=True)``, ``Masking``) become ONNX's ``sequence_lens``:
the count of unmasked steps per sequence. That is exact for right-padded sequences
(the usual case, and what rnnkit's fused kernels take); a mask with holes or left
padding is read as if the unmasked steps came first, so such inputs give other
results than rnnkit. Where rnnkit carries the last output through masked steps
(``return_sequences=True``, ``zero_output_for_mask=False``) the graph does the same.

A subclassed model (the ready tasks' models) is traced with ``torch.fx``, rnnkit layers
kept whole: its forward may use ``torch.cat``, + - * /, tanh/sigmoid/relu/softmax and
``reshape(x.shape[0], ...)`` between layers; Python control flow on tensor values, stateful
layers and other torch functions are refused with the reason.

Layers: InputLayer, Embedding, Masking, Dense, Activation, Dropout, SpatialDropout1D,
TimeDistributed(Dense), SimpleRNN, LSTM, GRU, Bidirectional of those, the masked
GlobalAverage/MaxPooling1D, Concatenate, Add, Multiply, Average, RepeatVector,
Flatten, Reshape, Permute. Refused with the reason: ``go_backwards``, ``stateful``,
``layer_norm``, ``zoneout``, ``RNN([cells])`` stacks in one layer, other activations,
and any other layer (convolutions, normalization, attention, min-RNNs).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rnnkit.errors import ConfigError, MissingDependencyError, invalid
from rnnkit.layers.base import Layer
from rnnkit.layers.symbolic import KerasTensor, flatten, map_structure, torch_dtype
from rnnkit.models import saving
from rnnkit.models.functional import Functional
from rnnkit.models.sequential import Sequential
from rnnkit.utils.io import atomic_write

OPSET = 18  # Reduce* take axes as an input from 18 on
_ACT = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu"}
_ELEMENTWISE = {
    "relu": "Relu",
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "softplus": "Softplus",
    "softsign": "Softsign",
    "elu": "Elu",
    "selu": "Selu",
    "exponential": "Exp",
}


def _onnx() -> tuple[Any, Any]:
    try:
        import onnx
        from onnx import helper
    except ImportError as exc:  # pragma: no cover - onnx is in the export extra
        raise MissingDependencyError("ONNX export needs the onnx package: pip install onnx") from exc
    return onnx, helper


@dataclass
class Value:
    """An ONNX value name, with the mask it carries: (bool mask (B, T), int32 lengths (B,))."""

    name: str
    mask: tuple[str, str] | None = None


class Graph:
    """An ONNX graph under construction: nodes, weights and fresh names."""

    def __init__(self) -> None:
        self.onnx, self.helper = _onnx()
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._n = 0

    def fresh(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, hint: str, value: Any, dtype: Any = np.float32) -> str:
        name = self.fresh(hint)
        array = np.asarray(value, dtype=dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], outputs: int = 1, **attrs: Any) -> Any:
        names = [self.fresh(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, inputs, names, **attrs))
        return names[0] if outputs == 1 else names

    def ints(self, values: list[int]) -> str:
        return self.const("ints", values, np.int64)


# ---------------------------------------------------------------------- layer emitters
def _weight(t: torch.Tensor | None) -> np.ndarray:
    return t.detach().cpu().float().numpy()


def _activation(g: Graph, x: str, name: str, where: str) -> str:
    if name in ("linear", None):
        return x
    if name == "softmax":
        return g.op("Softmax", [x], axis=-1)
    if name in _ELEMENTWISE:
        return g.op(_ELEMENTWISE[name], [x])
    raise ConfigError(invalid(f"activation of {where}", name, ["linear", "softmax", *sorted(_ELEMENTWISE)]))


def _dense(g: Graph, layer: Any, x: Value) -> Value:
    y = g.op("MatMul", [x.name, g.const("kernel", _weight(layer.weight).T)])  # (..., in) @ (in, out)
    if layer.bias is not None:
        y = g.op("Add", [y, g.const("bias", _weight(layer.bias))])
    return Value(_activation(g, y, layer.get_config()["activation"], layer.name), x.mask)


def _lengths(g: Graph, mask: str) -> str:
    as_int = g.op("Cast", [mask], to=g.onnx.TensorProto.INT32)
    return g.op("ReduceSum", [as_int, g.ints([1])], keepdims=0)  # (B,) unmasked steps


def _embedding(g: Graph, layer: Any, x: Value) -> Value:
    ids = g.op("Cast", [x.name], to=g.onnx.TensorProto.INT64)
    out = g.op("Gather", [g.const("embeddings", _weight(layer.weight)), ids], axis=0)  # (B, T, E)
    if not layer.mask_zero:
        return Value(out)
    mask = g.op("Not", [g.op("Equal", [ids, g.const("zero", 0, np.int64)])])  # (B, T)
    return Value(out, (mask, _lengths(g, mask)))


def _masking(g: Graph, layer: Any, x: Value) -> Value:
    differs = g.op("Not", [g.op("Equal", [x.name, g.const("mask_value", layer.mask_value)])])
    any_feature = g.op(
        "ReduceMax", [g.op("Cast", [differs], to=g.onnx.TensorProto.INT32), g.ints([-1])], keepdims=0
    )
    mask = g.op("Cast", [any_feature], to=g.onnx.TensorProto.BOOL)  # (B, T)
    keep = g.op("Unsqueeze", [g.op("Cast", [mask], to=g.onnx.TensorProto.FLOAT), g.ints([-1])])
    return Value(g.op("Mul", [x.name, keep]), (mask, _lengths(g, mask)))


def _pool(g: Graph, layer: Any, x: Value, kind: str) -> Value:
    if getattr(layer, "data_format", "channels_last") != "channels_last" or getattr(layer, "keepdims", False):
        raise ConfigError(
            invalid(f"layer {layer.name!r}", "channels_first/keepdims", "channels_last, no keepdims")
        )
    if x.mask is None:
        return Value(g.op("ReduceMean" if kind == "mean" else "ReduceMax", [x.name, g.ints([1])], keepdims=0))
    m = g.op("Unsqueeze", [x.mask[0], g.ints([-1])])  # (B, T, 1)
    if kind == "mean":
        mf = g.op("Cast", [m], to=g.onnx.TensorProto.FLOAT)
        total = g.op("ReduceSum", [g.op("Mul", [x.name, mf]), g.ints([1])], keepdims=0)
        count = g.op("Max", [g.op("ReduceSum", [mf, g.ints([1])], keepdims=0), g.const("one", 1.0)])
        return Value(g.op("Div", [total, count]))
    lowest = g.const("lowest", np.finfo(np.float32).min)
    return Value(g.op("ReduceMax", [g.op("Where", [m, x.name, lowest]), g.ints([1])], keepdims=0))


_GATE_ORDER = {"lstm": [0, 3, 1, 2], "gru": [1, 0, 2], "rnn": [0]}  # torch blocks -> ONNX blocks


def _reorder(a: np.ndarray, kind: str, units: int) -> np.ndarray:
    blocks = np.split(a, len(_GATE_ORDER[kind]), axis=0)
    return np.concatenate([blocks[i] for i in _GATE_ORDER[kind]], axis=0)


def _check_recurrent(layer: Any) -> Any:
    cfg = layer.get_config()
    for key, ok in (("go_backwards", False), ("stateful", False), ("layer_norm", False), ("zoneout", 0.0)):
        if cfg.get(key, ok) != ok:
            raise ConfigError(invalid(f"{key} of layer {layer.name!r}", cfg[key], f"{ok!r} for ONNX export"))
    cells = getattr(layer, "cells", None)
    if cells is None or len(cells) != 1 or getattr(cells[0], "kind", "") not in _GATE_ORDER:
        raise ConfigError(
            invalid("layer", f"{layer.name} ({type(layer).__name__})", "SimpleRNN, LSTM or GRU")
        )
    return cells[0]


def _recurrent(g: Graph, fwd: Any, bwd: Any | None, x: Value, initial: list[Value] | None) -> dict[str, Any]:
    """One ONNX RNN/LSTM/GRU node for a layer (or a Bidirectional pair); time-major inside."""
    cells = [_check_recurrent(fwd)] + ([_check_recurrent(bwd)] if bwd is not None else [])
    cell, kind, units = cells[0], cells[0].kind, cells[0].units
    cfg = fwd.get_config()
    W = np.stack([_reorder(_weight(c.weight_ih), kind, units) for c in cells])  # (dirs, G, D)
    R = np.stack([_reorder(_weight(c.weight_hh), kind, units) for c in cells])  # (dirs, G, H)
    inputs = [g.op("Transpose", [x.name], perm=[1, 0, 2]), g.const("W", W), g.const("R", R)]  # X: (T, B, D)
    if cell.use_bias:
        # B = [Wb, Rb] per direction: torch's two biases, as ONNX keeps them apart too
        B = np.stack(
            [
                np.concatenate([_reorder(_weight(b), kind, units) for b in (c.bias_ih, c.bias_hh)])
                for c in cells
            ]
        )
        inputs.append(g.const("B", B))
    else:
        inputs.append("")
    inputs.append(x.mask[1] if x.mask is not None else "")  # sequence_lens (B,) int32
    if initial:
        inputs += [g.op("Unsqueeze", [v.name, g.ints([0])]) for v in initial]  # (1, B, H) each
    act, rec = cfg.get("activation"), cfg.get("recurrent_activation", "sigmoid")
    if act not in _ACT or rec not in _ACT or (kind != "rnn" and act == "sigmoid"):
        raise ConfigError(invalid(f"activations of {fwd.name!r}", (act, rec), "tanh/relu with sigmoid gates"))
    attrs: dict[str, Any] = {
        "hidden_size": units,
        "direction": "bidirectional" if bwd is not None else "forward",
    }
    dirs = 2 if bwd is not None else 1
    if kind == "rnn":
        op, n_out, attrs["activations"] = "RNN", 2, [_ACT[act]] * dirs
    elif kind == "lstm":
        op, n_out, attrs["activations"] = "LSTM", 3, [_ACT[rec], _ACT[act], _ACT[act]] * dirs
    else:
        op, n_out = "GRU", 2
        attrs["activations"] = [_ACT[rec], _ACT[act]] * dirs
        attrs["linear_before_reset"] = 1 if getattr(cell, "reset_after", True) else 0
    outs = g.op(op, inputs, outputs=n_out, **attrs)  # Y (T, dirs, B, H), Y_h (dirs, B, H)[, Y_c]
    return {"Y": outs[0], "Y_h": outs[1], "Y_c": outs[2] if kind == "lstm" else None, "dirs": dirs}


def _direction(g: Graph, t: str, i: int, axis: int) -> str:
    return g.op("Squeeze", [g.op("Slice", [t, g.ints([i]), g.ints([i + 1]), g.ints([axis])]), g.ints([axis])])


def _sequence_outputs(g: Graph, layer: Any, r: dict[str, Any], x: Value) -> list[str]:
    """(B, T, H) per direction, with rnnkit's values at masked steps."""
    y = g.op("Transpose", [r["Y"]], perm=[2, 0, 1, 3])  # (B, T, dirs, H)
    per_dir = [_direction(g, y, i, 2) for i in range(r["dirs"])]
    if x.mask is not None and not getattr(layer, "zero_output_for_mask", False):
        # ONNX writes zeros past each sequence's length; rnnkit's forward direction carries
        # its last output there (a masked step keeps the state), i.e. Y_h.
        last = g.op("Unsqueeze", [_direction(g, r["Y_h"], 0, 0), g.ints([1])])  # (B, 1, H)
        keep = g.op("Unsqueeze", [x.mask[0], g.ints([-1])])  # (B, T, 1)
        per_dir[0] = g.op("Where", [keep, per_dir[0], last])
    return per_dir


def _rnn_layer(g: Graph, layer: Any, x: Value, initial: list[Value] | None) -> Any:
    r = _recurrent(g, layer, None, x, initial)
    if layer.return_sequences:
        out = Value(_sequence_outputs(g, layer, r, x)[0], x.mask)
    else:
        out = Value(_direction(g, r["Y_h"], 0, 0))
    if not layer.return_state:
        return out
    states = [Value(_direction(g, r["Y_h"], 0, 0))]
    if r["Y_c"] is not None:
        states.append(Value(_direction(g, r["Y_c"], 0, 0)))
    return [out, *states]


_MERGE = {"concat": "Concat", "sum": "Sum", "mul": "Mul", "ave": "Mean"}


def _bidirectional(g: Graph, layer: Any, x: Value) -> Any:
    fwd, bwd = layer.forward_layer, layer.backward_layer
    if not bwd.go_backwards:
        raise ConfigError(invalid("backward_layer", bwd.name, "a layer with go_backwards=True"))
    bwd_cfg = {**bwd.get_config(), "go_backwards": False}
    if type(fwd) is not type(bwd) or {**fwd.get_config(), "name": ""} != {**bwd_cfg, "name": ""}:
        raise ConfigError(
            invalid(f"layer {layer.name!r}", "different forward/backward layers", "a mirrored pair")
        )
    fwd_cfg = fwd.get_config()
    r = _recurrent(g, _Unreversed(fwd), _Unreversed(bwd), x, None)
    if fwd.return_sequences:
        parts, mask = _sequence_outputs(g, fwd, r, x), x.mask
    else:
        parts, mask = [_direction(g, r["Y_h"], i, 0) for i in range(2)], None
    if layer.merge_mode is None:
        outs = [Value(p, mask) for p in parts]
    else:
        op = _MERGE[layer.merge_mode]
        merged = g.op(op, parts, axis=-1) if op == "Concat" else g.op(op, parts)
        outs = [Value(merged, mask)]
    if fwd_cfg.get("return_state"):
        states = [Value(_direction(g, r["Y_h"], i, 0)) for i in range(2)]
        if r["Y_c"] is not None:
            c = [Value(_direction(g, r["Y_c"], i, 0)) for i in range(2)]
            states = [states[0], c[0], states[1], c[1]]
        return [*outs, *states]
    return outs[0] if len(outs) == 1 else outs


class _Unreversed:
    """A backward layer seen without go_backwards (ONNX's direction attribute reverses)."""

    def __init__(self, layer: Any) -> None:
        self._layer = layer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._layer, name)

    def get_config(self) -> dict[str, Any]:
        return {**self._layer.get_config(), "go_backwards": False}


def _merge(g: Graph, layer: Any, xs: list[Value]) -> Value:
    kind, names = type(layer).__name__, [v.name for v in xs]
    if kind == "Concatenate":
        return Value(g.op("Concat", names, axis=int(layer.axis)), xs[0].mask)
    if kind == "Multiply":
        out = names[0]
        for other in names[1:]:
            out = g.op("Mul", [out, other])
        return Value(out, xs[0].mask)
    return Value(g.op("Sum" if kind == "Add" else "Mean", names), xs[0].mask)


def emit(g: Graph, layer: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """ONNX nodes for one layer call; returns Values in the layer's output structure."""
    kind = type(layer).__name__
    x = args[0] if args else kwargs.get("inputs")
    if kwargs.get("mask") is not None:
        raise ConfigError(
            invalid(f"mask= of layer {layer.name!r}", "an explicit mask", "the mask carried by inputs")
        )
    initial = kwargs.get("initial_state")
    if initial is not None and kind not in ("SimpleRNN", "LSTM", "GRU"):
        raise ConfigError(
            invalid(f"initial_state of {layer.name!r}", "given", "only on SimpleRNN, LSTM, GRU")
        )
    if kind in ("InputLayer", "Dropout", "SpatialDropout1D", "GaussianNoise"):
        return x
    if isinstance(layer, (Sequential, Functional)):  # a whole model used as a layer
        _, run = _graph_io(layer)
        outs = run(g, flatten(args))
        return outs[0] if len(outs) == 1 else outs
    if kind == "Dense":
        return _dense(g, layer, x)
    if kind == "Activation":
        return Value(_activation(g, x.name, layer.get_config()["activation"], layer.name), x.mask)
    if kind == "TimeDistributed" and type(layer.layer).__name__ in ("Dense", "Activation", "Dropout"):
        return emit(g, layer.layer, [x], {})
    if kind == "Embedding":
        return _embedding(g, layer, x)
    if kind == "Masking":
        return _masking(g, layer, x)
    if kind in ("SimpleRNN", "LSTM", "GRU"):
        return _rnn_layer(g, layer, x, list(initial) if initial is not None else None)
    if kind == "Bidirectional":
        return _bidirectional(g, layer, x)
    if kind in ("GlobalAveragePooling1D", "GlobalMaxPooling1D"):
        return _pool(g, layer, x, "mean" if "Average" in kind else "max")
    if kind in ("Concatenate", "Add", "Multiply", "Average"):
        return _merge(g, layer, list(x))
    if kind == "RepeatVector":
        tiled = g.op("Unsqueeze", [x.name, g.ints([1])])  # (B, 1, D)
        return Value(g.op("Tile", [tiled, g.ints([1, int(layer.n), 1])]))
    if kind == "Flatten":
        return Value(g.op("Flatten", [x.name], axis=1))
    if kind == "Reshape":
        return Value(g.op("Reshape", [x.name, g.ints([0, *[int(d) for d in layer.target_shape]])]))
    if kind == "Permute":
        return Value(g.op("Transpose", [x.name], perm=[0, *[int(d) for d in layer.dims]]), x.mask)
    raise ConfigError(
        invalid(
            "layer",
            f"{layer.name} ({kind})",
            "a layer the ONNX exporter writes (see rnnkit.models.onnx_export)",
        )
    )


# ---------------------------------------------------------------------- models
def _dtype(g: Graph, name: str) -> int:
    tp = g.onnx.TensorProto
    return {"float32": tp.FLOAT, "float64": tp.DOUBLE, "int32": tp.INT32, "int64": tp.INT64, "bool": tp.BOOL}[
        name
    ]


def _graph_io(model: Any) -> tuple[list[tuple[str, str, tuple[Any, ...]]], Any]:
    """[(name, dtype, shape)] of the inputs, and a function running the graph on Values."""
    if isinstance(model, Functional):
        inputs = [(t.node.layer.name, t.dtype, t.shape) for t in model._input_tensors]

        def run(g: Graph, values: list[Value]) -> list[Value]:
            env = {id(t): v for t, v in zip(model._input_tensors, values, strict=True)}
            for node in model._nodes:
                resolve = lambda v: env[id(v)] if isinstance(v, KerasTensor) else v  # noqa: E731
                args = map_structure(resolve, list(node.args))
                kwargs = {k: map_structure(resolve, v) for k, v in node.kwargs.items() if k != "training"}
                out = emit(g, node.layer, args, kwargs)
                for t, v in zip(node.outputs, flatten(out), strict=True):
                    env[id(t)] = v
            return [env[id(t)] for t in model._output_tensors]

        return inputs, run
    if isinstance(model, Sequential):
        if not len(model.layers):
            raise ConfigError("an empty Sequential has nothing to export.")
        first = model.layers[0]
        shape = model.input_spec or getattr(first, "build_input_shape", None)
        if shape is None:
            raise ConfigError(
                "the model is not built: call it on data (or start it with Input(shape=...)) before export."
            )
        default = "int64" if type(first).__name__ == "Embedding" else "float32"
        dtype = model.__dict__.get("_input_dtype") or default

        def run_seq(g: Graph, values: list[Value]) -> list[Value]:
            x: Any = values[0]
            for layer in model.layers:
                x = emit(g, layer, [x], {})
                if isinstance(x, list):
                    raise ConfigError(
                        invalid(f"layer {layer.name!r}", "several outputs", "one output in a Sequential")
                    )
            return [x]

        return [("input", dtype, (None, *tuple(shape)[1:]))], run_seq
    return _traced_io(model)


# ---------------------------------------------------------------------- subclassed models
def _traced_io(model: Any) -> tuple[list[tuple[str, str, tuple[Any, ...]]], Any]:
    """A subclassed model's forward, traced by ``torch.fx`` with rnnkit layers as leaves.

    Inputs are forward's parameters without defaults; one with a default (``training=None``)
    is fixed at it. Each input's dtype and shape are read from the first layer that takes
    it (Embedding: integer ids (B, T); any other built layer: its build shape). Between
    layers, the torch functions below are translated; anything else is refused by name.
    """
    import inspect

    import torch.fx as fx

    class LayerLeaves(fx.Tracer):
        def is_leaf_module(self, m: torch.nn.Module, name: str) -> bool:
            return isinstance(m, Layer) or super().is_leaf_module(m, name)

    params = list(inspect.signature(model.forward).parameters.values())
    fixed = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    try:
        graph = LayerLeaves().trace(model, concrete_args=fixed)
    except Exception as exc:  # fx raises many kinds for Python control flow on tensors
        raise ConfigError(
            f"{type(model).__name__}.forward cannot be traced for ONNX export ({type(exc).__name__}: {exc})."
        ) from exc
    required = [p.name for p in params if p.default is inspect.Parameter.empty]
    placeholders = [n for n in graph.nodes if n.op == "placeholder"][: len(required)]
    inputs = [(str(n.target), *_input_spec(model, n)) for n in placeholders]

    def run(g: Graph, values: list[Value]) -> list[Value]:
        env: dict[Any, Any] = dict(zip(placeholders, values, strict=True))
        out: Any = None
        for node in graph.nodes:
            if node.op == "placeholder":
                env.setdefault(node, None)
                continue
            args = fx.node.map_arg(node.args, lambda n: env[n])
            kwargs = fx.node.map_arg(node.kwargs, lambda n: env[n])
            if node.op == "call_module":
                env[node] = _call_module(g, model.get_submodule(node.target), list(args), dict(kwargs))
            elif node.op == "call_function":
                env[node] = _call_function(g, node.target, list(args), dict(kwargs))
            elif node.op == "call_method":
                env[node] = _call_method(g, node.target, list(args), dict(kwargs))
            elif node.op == "get_attr":
                env[node] = Value(g.const("weight", _weight(operator.attrgetter(node.target)(model))))
            elif node.op == "output":
                out = args[0]
        return flatten(out)

    return inputs, run


def _input_spec(model: Any, node: Any) -> tuple[str, tuple[Any, ...]]:
    for user in node.users:
        if user.op == "call_module":
            layer = model.get_submodule(user.target)
            if type(layer).__name__ == "Embedding":
                return "int64", (None, None)
            shape = getattr(layer, "build_input_shape", None)
            if shape is not None and not isinstance(shape[0], (list, tuple)):
                # the size a layer was built for is its last axis; batch and time stay dynamic
                return "float32", (None, *[None] * (len(shape) - 2), shape[-1])
    raise ConfigError(
        invalid(
            f"input {node.target!r} of {type(model).__name__}",
            "of unknown dtype and shape",
            "an input that goes straight into a built rnnkit layer",
        )
    )


class _Shape:
    """``x.shape`` inside a traced forward; ``x.shape[0]`` is the batch size."""

    def __init__(self, value: Value) -> None:
        self.value = value


class _Dim:
    def __init__(self, index: int) -> None:
        self.index = index


def _call_module(g: Graph, module: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    if isinstance(module, Layer):
        if not module.built:
            raise ConfigError(
                f"layer {module.name!r} is not built: call the model on data once before export."
            )
        kwargs.pop("training", None)
        return emit(g, module, args, kwargs)
    if isinstance(module, torch.nn.Dropout):
        return args[0]
    raise ConfigError(invalid("module", type(module).__name__, "rnnkit layers (and torch.nn.Dropout)"))


_BINARY = {
    operator.add: "Add",
    torch.add: "Add",
    operator.sub: "Sub",
    operator.mul: "Mul",
    torch.mul: "Mul",
    operator.truediv: "Div",
}
_UNARY = {torch.tanh: "Tanh", torch.sigmoid: "Sigmoid", torch.relu: "Relu", F.relu: "Relu"}


def _call_function(g: Graph, fn: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    name = getattr(fn, "__name__", str(fn))
    if name == "_assert_is_none":
        return None
    if fn is getattr and args[1] == "shape":
        return _Shape(args[0])
    if fn is operator.getitem and isinstance(args[0], _Shape):
        return _Dim(int(args[1]))
    if fn in (torch.cat, torch.concat):
        axis = kwargs.get("dim", args[1] if len(args) > 1 else 0)
        return Value(g.op("Concat", [v.name for v in args[0]], axis=int(axis)))
    if fn in _BINARY and all(isinstance(a, Value) for a in args[:2]):
        return Value(g.op(_BINARY[fn], [args[0].name, args[1].name]), args[0].mask)
    if fn in _UNARY:
        return Value(g.op(_UNARY[fn], [args[0].name]), args[0].mask)
    if fn in (F.softmax, torch.softmax):
        axis = kwargs.get("dim", args[1] if len(args) > 1 else -1)
        return Value(g.op("Softmax", [args[0].name], axis=int(axis)))
    raise ConfigError(
        invalid("function in forward", name, "torch.cat, +, -, *, /, tanh, sigmoid, relu, softmax")
    )


def _call_method(g: Graph, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    x = args[0]
    if method in ("reshape", "view"):
        dims = list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) else args[1:]
        target = []
        for i, d in enumerate(dims):
            if isinstance(d, _Dim):
                if d.index != 0 or i != 0:
                    raise ConfigError(invalid("reshape", "a size read from x.shape", "x.shape[0], first"))
                target.append(0)  # ONNX Reshape: 0 copies the input's size at this position (the batch)
            else:
                target.append(int(d))
        return Value(g.op("Reshape", [x.name, g.ints(target)]))
    if method == "contiguous":
        return x
    raise ConfigError(invalid("tensor method in forward", method, ["reshape", "view", "contiguous"]))


def _output_ranks(model: Any, inputs: list[tuple[str, str, tuple[Any, ...]]]) -> list[int]:
    """The rank of each output, from one run on a small example (ranks never depend on sizes)."""
    examples = [
        torch.ones([2 if d is None else int(d) for d in shape], dtype=torch_dtype(dtype))
        for _, dtype, shape in inputs
    ]
    with torch.no_grad():
        out = model(*examples)
    return [t.dim() for t in flatten(out)]


def to_onnx(model: Any, opset: int = OPSET) -> Any:
    """The ``onnx.ModelProto`` of ``model`` (batch and unknown axes dynamic)."""
    if isinstance(model, (Sequential, Functional)) and not model.built:
        raise ConfigError("the model is not built: call it on data once before export.")
    g = Graph()
    helper = g.helper
    inputs, run = _graph_io(model)
    graph_inputs, values = [], []
    for i, (name, dtype, shape) in enumerate(inputs):
        dims = [
            d if d is not None else ("batch" if j == 0 else f"{name}_dim{j}") for j, d in enumerate(shape)
        ]
        graph_inputs.append(helper.make_tensor_value_info(name, _dtype(g, dtype), dims))
        values.append(Value(name))
        del i
    was_training = model.training
    model.eval()
    try:
        outputs = run(g, values)
    finally:
        model.train(was_training)
    graph_outputs = []
    for i, (v, rank) in enumerate(zip(outputs, _output_ranks(model, inputs), strict=True)):
        name = f"output_{i}" if len(outputs) > 1 else "output"
        g.nodes.append(helper.make_node("Identity", [v.name], [name]))
        dims = ["batch", *(f"{name}_dim{j}" for j in range(1, rank))]
        graph_outputs.append(helper.make_tensor_value_info(name, g.onnx.TensorProto.FLOAT, dims))
    graph = helper.make_graph(g.nodes, model.name, graph_inputs, graph_outputs, g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="rnnkit")
    proto.ir_version = min(proto.ir_version, 10)  # readable by onnxruntime releases of the last two years
    g.onnx.checker.check_model(proto)
    return proto


def export_onnx(model: Any, path: Any, opset: int = OPSET) -> None:
    """Write ``model`` as an ONNX file, atomically."""
    atomic_write(path, to_onnx(model, opset).SerializeToString())


saving.EXPORTERS["onnx"] = export_onnx
