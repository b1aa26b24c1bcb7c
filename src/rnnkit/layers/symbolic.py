"""Symbolic tensors for Keras's functional API (``x = Input(...); y = LSTM(8)(x)``).

A :class:`KerasTensor` carries a shape (batch first, ``None`` = any size), a dtype and
its history: the :class:`Node` (one call of one layer) that made it. Calling a layer on
KerasTensors (anywhere in its arguments: ``lstm(x, initial_state=[h, c])``) records a
Node instead of computing, as in Keras; ``rnnkit.models.Model(inputs, outputs)`` then
walks the Nodes back from the outputs and replays them on real tensors.

Output shapes come from running the layer itself, not from a second shape algebra to
keep in step with every layer: the layer is called (eval mode, no gradient) on two small
example batches in which every unknown size takes a different value (batch 2 vs 3,
other axes 12 vs 25); an output axis whose size differs between the two runs is unknown
(``None``), one that agrees is fixed. The first run also builds the layer's weights, as
Keras's symbolic call does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from rnnkit.errors import ConfigError, invalid

Tensor = torch.Tensor

# Sizes given to unknown axes in the two example runs: (batch, any other axis). Distinct
# and > 8 for the other axes, so pooling or striding by up to 12 still changes the size.
_EXAMPLE_SIZES = ((2, 12), (3, 25))

#: Set once the first KerasTensor exists: until then ``Layer.__call__`` skips the check.
active = False


class KerasTensor:
    """A symbolic tensor: shape (batch first; None = unknown), dtype, and the Node that made it."""

    def __init__(
        self,
        shape: tuple[int | None, ...],
        dtype: str = "float32",
        name: str | None = None,
        history: tuple[Any, int, int] | None = None,
    ) -> None:
        global active
        active = True
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = str(dtype)
        self.name = name
        self._keras_history = history  # (layer, node index in layer._inbound_nodes, output index)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def node(self) -> Node:
        layer, index, _ = self._keras_history  # type: ignore[misc]
        return layer._inbound_nodes[index]

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __bool__(self) -> bool:
        raise ConfigError(
            "a symbolic tensor (from Input) has no value: it cannot be used in `if` or `and`. "
            "Build the model with Model(inputs, outputs) and call it on data."
        )


class Node:
    """One call of ``layer``: its arguments (KerasTensors inside) and its flat outputs."""

    def __init__(self, layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any], outputs: list[KerasTensor]):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.inputs = [t for t in flatten((args, kwargs)) if isinstance(t, KerasTensor)]

    @property
    def is_input(self) -> bool:
        return not self.inputs and not self.args

    @property
    def outputs_structure(self) -> Any:
        """The outputs as the layer call returned them: one tensor, or a list."""
        return self.outputs[0] if len(self.outputs) == 1 else list(self.outputs)


def node_of(layer: Any, what: str) -> Node:
    """The one Node of ``layer`` (for ``layer.output`` / ``layer.input``)."""
    nodes = layer.__dict__.get("_inbound_nodes") or []
    if len(nodes) != 1:
        raise ConfigError(
            f"layer {layer.name!r} has been called {len(nodes)} times on symbolic tensors: "
            f"layer.{what} needs exactly one call (it is ambiguous for a shared layer)."
        )
    return nodes[0]


# ------------------------------------------------------------------ nested structures
def flatten(obj: Any) -> list[Any]:
    """Leaves of nested lists / tuples / dicts (dicts in key order), as Keras's tree.flatten."""
    if isinstance(obj, dict):
        return [leaf for k in sorted(obj) for leaf in flatten(obj[k])]
    if isinstance(obj, (list, tuple)):
        return [leaf for item in obj for leaf in flatten(item)]
    return [obj]


def map_structure(fn: Callable[[Any], Any], obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: map_structure(fn, v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [map_structure(fn, v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(map_structure(fn, v) for v in obj)
    return fn(obj)


def any_symbolic(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    return any(isinstance(t, KerasTensor) for t in flatten((args, kwargs)))


def torch_dtype(dtype: Any) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ConfigError(invalid("dtype", dtype, "a dtype name such as 'float32', 'int32' or 'int64'"))
    return value


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


# ------------------------------------------------------------------ the symbolic call
def _example(t: KerasTensor, sizes: tuple[int, int], gen: torch.Generator) -> Tensor:
    shape = [(sizes[0] if i == 0 else sizes[1]) if d is None else d for i, d in enumerate(t.shape)]
    dtype = torch_dtype(t.dtype)
    if dtype.is_floating_point:
        return torch.randn(shape, generator=gen).to(dtype)  # not zeros: Masking(0.0) would mask all
    return torch.ones(shape, dtype=dtype)  # id 1: a real token for Embedding(mask_zero=True)


def pack_as(structure: Any, flat: list[Any]) -> Any:
    """The inverse of :func:`flatten`: ``flat``'s items put in ``structure``'s places."""
    it = iter(flat)

    def fill(obj: Any) -> Any:
        if isinstance(obj, dict):
            filled = {k: fill(obj[k]) for k in sorted(obj)}
            return {k: filled[k] for k in obj}
        if isinstance(obj, list):
            return [fill(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(fill(v) for v in obj)
        return next(it)

    return fill(structure)


def _run(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any], sizes: tuple[int, int]) -> Any:
    gen = torch.Generator().manual_seed(0)  # its own generator: the global RNG stream is untouched
    examples: dict[int, Tensor] = {}

    def concrete(v: Any) -> Any:
        if isinstance(v, KerasTensor):
            if id(v) not in examples:
                examples[id(v)] = _example(v, sizes, gen)
            return examples[id(v)]
        return v

    out = layer.forward(*map_structure(concrete, args), **map_structure(concrete, kwargs))
    for leaf in flatten(out):
        if not isinstance(leaf, Tensor):
            raise ConfigError(
                f"layer {layer.name!r} returned a {type(leaf).__name__}: in a functional model a "
                "layer must return tensors (or lists/tuples/dicts of them)."
            )
    return out


def symbolic_call(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Record ``layer(*args, **kwargs)`` on KerasTensors; return KerasTensors shaped as its output."""
    was_training = layer.training
    layer.eval()
    try:
        with torch.no_grad():
            out = _run(layer, args, kwargs, _EXAMPLE_SIZES[0])
            second = flatten(_run(layer, args, kwargs, _EXAMPLE_SIZES[1]))
    finally:
        layer.train(was_training)
        _forget_states(layer)
    first = flatten(out)
    nodes = layer.__dict__.setdefault("_inbound_nodes", [])
    index = len(nodes)
    outputs = [
        KerasTensor(
            tuple(a if a == b else None for a, b in zip(t1.shape, t2.shape, strict=True)),
            dtype_name(t1.dtype),
            name=layer.name if len(first) == 1 else f"{layer.name}_{i}",
            history=(layer, index, i),
        )
        for i, (t1, t2) in enumerate(zip(first, second, strict=True))
    ]
    nodes.append(Node(layer, args, kwargs, outputs))
    # A tuple (e.g. LSTM's (output, h, c) with return_state) comes back as a list, as in Keras.
    packed = pack_as(out, outputs)
    return list(packed) if isinstance(packed, tuple) else packed


def _forget_states(layer: Any) -> None:
    """An example run must not leave a carried state (of a made-up batch size) behind."""
    for m in layer.modules():
        if getattr(m, "stateful", False) and hasattr(m, "reset_states"):
            try:
                m.reset_states(batch_size=None)
            except TypeError:
                m.reset_states()
