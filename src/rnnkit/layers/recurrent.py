"""The RNN layer: runs any cell over a sequence, with Keras's flags and semantics.

Shapes: inputs (B, T, D) batch first; mask (B, T) bool (True = a real step);
states (B, H). ``RNN(cell)`` accepts a built-in cell (run by the fastest
eligible kernel, see :mod:`rnnkit.kernels`), a user's own cell following the
cell contract below, or a list of cells (a deep stack, :class:`StackedRNNCells`).

The cell contract (Keras's): an object with
``call(inputs_t, states, training=False) -> (output_t, new_states)``,
``state_size`` (an int, or a list of ints, one per state tensor), optionally
``output_size`` and ``get_initial_state(batch_size)``. A cell that is an
rnnkit :class:`~rnnkit.layers.base.Layer` is built from the step input shape (B, D).

Flags: ``return_sequences`` (all outputs (B, T, H) or the last (B, H)),
``return_state`` (also the final states), ``go_backwards`` (process time in
reverse; outputs stay in processing order, as Keras), ``stateful`` (carry the
final states into the next call, detached -- truncated BPTT; ``reset_states()``),
``unroll`` (accepted; means "the reference loop"), ``zero_output_for_mask``,
``use_fused`` ("auto" | True | False). After a call, ``last_kernel`` says which
kernel ran and why.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from rnnkit.core.scan import scan
from rnnkit.errors import ConfigError, KernelError, ShapeError, invalid
from rnnkit.kernels import KernelChoice, SequenceOptions, SequenceResult, check_use_fused, run_sequence
from rnnkit.layers.base import Layer, Shape, deserialize_layer, serialize_layer
from rnnkit.layers.cell import RecurrentCell
from rnnkit.layers.core_layers import check_last_dim

Tensor = torch.Tensor


def _state_sizes(cell: Any) -> list[int]:
    size = cell.state_size
    return [size] if isinstance(size, int) else [int(s) for s in size]


def _output_size(cell: Any) -> int:
    return int(getattr(cell, "output_size", None) or _state_sizes(cell)[0])


class StackedRNNCells(Layer):
    """Several cells run as one deep cell: the output of cell i is the input of cell i+1."""

    def __init__(self, cells: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not cells:
            raise ConfigError(invalid("cells", list(cells), "a non-empty list of cells"))
        for c in cells:
            _check_cell(c)
        self.cells = nn.ModuleList(cells)

    @property
    def state_size(self) -> list[int]:
        return [s for c in self.cells for s in _state_sizes(c)]

    @property
    def output_size(self) -> int:
        return _output_size(self.cells[-1])

    def build(self, input_shape: Shape) -> None:
        dim = input_shape[-1]
        for c in self.cells:
            if isinstance(c, Layer):
                self.build_sublayer(c, (input_shape[0], dim))
            dim = _output_size(c)
        super().build(input_shape)

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> tuple[Tensor, list[Tensor]]:
        """One step through every cell; ``states`` is the flat list of all cells' states."""
        flat = list(states)
        new: list[Tensor] = []
        x = inputs
        for c in self.cells:
            n = len(_state_sizes(c))
            x, s = _cell_step(c, x, flat[:n], training)
            flat = flat[n:]
            new += s
        return x, new

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cells": [serialize_layer(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StackedRNNCells:
        config = dict(config)
        config["cells"] = [deserialize_layer(c) for c in config["cells"]]
        return cls(**config)


def _check_cell(cell: Any) -> None:
    if not hasattr(cell, "call") or not hasattr(cell, "state_size"):
        raise ConfigError(
            invalid("cell", type(cell).__name__, "a cell with a `call` method and a `state_size` attribute")
        )


def _cell_step(cell: Any, x: Tensor, states: list[Tensor], training: bool) -> tuple[Tensor, list[Tensor]]:
    if isinstance(cell, Layer):
        out, new = cell(x, states, training=training)
    else:
        out, new = cell.call(x, states)
    return out, [new] if isinstance(new, Tensor) else list(new)


class RNN(Layer):
    """Runs ``cell`` (or a list of cells) over the time axis of (B, T, D) inputs."""

    supports_masking = True

    def __init__(
        self,
        cell: Any,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        use_fused: str | bool = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        _check_cell(cell)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.use_fused = check_use_fused(use_fused)
        self.input_dim: int | None = None
        self.states: list[Tensor] | None = None
        self.last_kernel: KernelChoice | None = None

    @property
    def cells(self) -> list[Any]:
        return list(self.cell.cells) if isinstance(self.cell, StackedRNNCells) else [self.cell]

    @property
    def state_size(self) -> list[int]:
        return _state_sizes(self.cell)

    # ------------------------------------------------------------------ build
    def build(self, input_shape: Shape) -> None:
        if len(input_shape) != 3:
            raise ShapeError(
                f"{self.name}: input_shape={tuple(input_shape)} is not valid: "
                "expected 3 dimensions (batch, timesteps, features)."
            )
        self.input_dim = None if input_shape[-1] is None else int(input_shape[-1])  # type: ignore[arg-type]
        if isinstance(self.cell, Layer):
            self.build_sublayer(self.cell, (input_shape[0], input_shape[2]))
        super().build(input_shape)

    # ------------------------------------------------------------------- call
    def call(
        self,
        inputs: Tensor,
        initial_state: Any = None,
        mask: Tensor | None = None,
        training: bool = False,
    ) -> Any:
        x = self._check_inputs(inputs)
        B, T = x.shape[:2]
        mask = self._check_mask(mask, B, T, x.device)
        states = self._initial_states(initial_state, B, x)

        cells = self.cells
        seq, last = x, None
        final: list[Tensor] = []
        choices: list[KernelChoice] = []
        offset = 0
        for i, cell in enumerate(cells):
            n = len(_state_sizes(cell))
            is_last = i == len(cells) - 1
            # Cells after the first read the sequence in the order the first one
            # produced it (reversed, with go_backwards): flip the mask to match.
            cell_mask = mask if (i == 0 or mask is None or not self.go_backwards) else mask.flip(1)
            result, choice = self._run_cell(
                cell,
                seq,
                tuple(states[offset : offset + n]),
                mask=cell_mask,
                go_backwards=self.go_backwards and i == 0,
                zero_output_for_mask=self.zero_output_for_mask and is_last,
                return_sequences=self.return_sequences or not is_last,
                training=training,
            )
            offset += n
            seq, last = result.outputs, result.last_output
            final += list(result.states)
            choices.append(choice)
        self.last_kernel = _combine(choices)

        if self.stateful:
            self.states = [s.detach() for s in final]  # truncated BPTT: no gradient into the past call
        output = seq if self.return_sequences else last
        if self.return_state:
            return (output, *final)
        return output

    def _run_cell(
        self, cell: Any, x: Tensor, state0: tuple[Tensor, ...], **flags: Any
    ) -> tuple[SequenceResult, KernelChoice]:
        if isinstance(cell, RecurrentCell):
            dmask, rmask = cell.dropout_masks(x[:, 0], state0[0], flags["training"])
            opts = SequenceOptions(
                input_dropout_mask=dmask,
                recurrent_dropout_mask=rmask,
                zoneout=cell.zoneout,
                generator=cell.generator(x.device),
                need_states=self.return_state or self.stateful,
                **flags,
            )
            return run_sequence(cell.params(), x, state0, opts, use_fused=self.use_fused, unroll=self.unroll)
        if self.use_fused is True:
            raise KernelError(
                f"use_fused=True cannot run this layer: {type(cell).__name__} is not a built-in cell. "
                "Pass use_fused='auto' to fall back to the reference kernel."
            )
        training = flags["training"]

        def step(x_t: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
            out, new = _cell_step(cell, x_t, list(state), training)
            return out, tuple(new)

        last, outputs, states = scan(
            step,
            x.unbind(1),  # (B, T, D) -> T x (B, D)
            state0,
            mask=flags["mask"],
            reverse=flags["go_backwards"],
            zero_output_for_mask=flags["zero_output_for_mask"],
            return_sequences=flags["return_sequences"],
        )
        return SequenceResult(last, outputs, states), KernelChoice("reference", "a user-defined cell")

    # ------------------------------------------------------------- validation
    def _check_inputs(self, inputs: Any) -> Tensor:
        if not isinstance(inputs, Tensor):
            inputs = torch.as_tensor(inputs, dtype=torch.get_default_dtype())
        if inputs.dim() != 3:
            raise ShapeError(
                f"{self.name}: inputs.shape={tuple(inputs.shape)} is not valid: "
                "expected 3 dimensions (batch, timesteps, features)."
            )
        if inputs.shape[1] == 0:
            raise ShapeError(
                f"{self.name}: inputs.shape={tuple(inputs.shape)} is not valid: expected at least 1 timestep."
            )
        check_last_dim(self, inputs, self.input_dim)
        return inputs

    def _check_mask(self, mask: Any, B: int, T: int, device: torch.device) -> Tensor | None:
        if mask is None:
            return None
        mask = torch.as_tensor(mask, device=device)
        if tuple(mask.shape) != (B, T):
            raise ShapeError(
                f"{self.name}: mask.shape={tuple(mask.shape)} is not valid: "
                f"expected (batch, timesteps) = ({B}, {T})."
            )
        return mask.bool()

    def _initial_states(self, initial_state: Any, B: int, x: Tensor) -> list[Tensor]:
        sizes = self.state_size
        if initial_state is None:
            if self.stateful:
                self._check_carried_batch(B)
                if self.states is None:
                    self.states = self._zeros(B, x)
                return [s.to(x.device) for s in self.states]
            return self._zeros(B, x)
        if isinstance(initial_state, Tensor):
            initial_state = [initial_state]
        flat: list[Tensor] = []
        for s in initial_state:
            flat += [s] if isinstance(s, Tensor) else list(s)
        if len(flat) != len(sizes):
            raise ShapeError(
                f"{self.name}: initial_state has {len(flat)} tensors: expected {len(sizes)} "
                f"(state sizes {sizes})."
            )
        for i, (s, size) in enumerate(zip(flat, sizes, strict=True)):
            if tuple(s.shape) != (B, size):
                raise ShapeError(
                    f"{self.name}: initial_state[{i}].shape={tuple(s.shape)} is not valid: "
                    f"expected ({B}, {size})."
                )
        return [s.to(dtype=x.dtype) for s in flat]

    def _check_carried_batch(self, B: int) -> None:
        """A stateful layer carries its states only into inputs of the same batch size."""
        if self.states is not None and self.states[0].shape[0] != B:
            raise ShapeError(
                f"{self.name}: inputs batch size {B} is not valid for a stateful layer: expected "
                f"{self.states[0].shape[0]}, the batch size of its carried state "
                "(call reset_states(batch_size=None) to start over with another batch size)."
            )

    def _zeros(self, B: int, x: Tensor) -> list[Tensor]:
        get = getattr(self.cell, "get_initial_state", None)
        if isinstance(self.cell, StackedRNNCells) or get is None:
            return [x.new_zeros(B, size) for size in self.state_size]
        init = get(B)
        return [init] if isinstance(init, Tensor) else list(init)

    def reset_states(self, indices: Any = None, batch_size: Any = "keep") -> None:
        """Zero the carried states of a stateful layer: all rows, or only ``indices`` (per-sample reset).

        ``batch_size=None`` forgets the states entirely, so the next call may use another batch size.
        """
        if batch_size is None:
            self.states = None
            return
        if self.states is None:
            return
        if indices is None:
            self.states = [torch.zeros_like(s) for s in self.states]
            return
        idx = torch.as_tensor(indices, device=self.states[0].device)
        if idx.dtype == torch.bool:
            idx = idx.nonzero().flatten()
        self.states = [s.index_fill(0, idx, 0.0) for s in self.states]

    reset_state = reset_states  # Keras 3's name

    # ---------------------------------------------------------------- shapes
    def compute_mask(self, inputs: Any, mask: Tensor | None = None) -> Tensor | None:
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape: Shape) -> Any:
        B, T = input_shape[0], input_shape[1]
        units = _output_size(self.cell)
        out: Any = (B, T, units) if self.return_sequences else (B, units)
        if self.return_state:
            return (out, *[(B, s) for s in self.state_size])
        return out

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "use_fused": self.use_fused,
        }
        if type(self) is RNN:
            config["cell"] = serialize_layer(self.cell)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RNN:
        config = dict(config)
        if cls is RNN:
            config["cell"] = deserialize_layer(config["cell"])
        return cls(**config)


def _combine(choices: list[KernelChoice]) -> KernelChoice:
    if len({(c.name, c.reason) for c in choices}) == 1:
        return choices[0]
    return KernelChoice("mixed", "; ".join(f"cell {i}: {c.name} ({c.reason})" for i, c in enumerate(choices)))


def kernel_report(module: nn.Module) -> list[tuple[str, str, str]]:
    """(layer name, kernel, reason) for every recurrent layer in ``module`` that has run."""
    rows = []
    for m in module.modules():
        choice = getattr(m, "last_kernel", None)
        if isinstance(m, RNN) and choice is not None:
            rows.append((m.name, choice.name, choice.reason))
    return rows


def cell_params(cell_class: type) -> set[str]:
    """The named arguments of a cell class (its ``**kwargs`` left out)."""
    return {
        name
        for name, prm in inspect.signature(cell_class).parameters.items()
        if prm.kind is not inspect.Parameter.VAR_KEYWORD
    }


class FlatRNN(RNN):
    """An RNN around one cell that the layer builds from its own flat arguments, as Keras's
    SimpleRNN, LSTM, GRU and ConvLSTM are configured; the cell's settings read through the layer."""

    cell_class: ClassVar[type[Layer]]
    cell_name: ClassVar[str]
    cell_attrs: ClassVar[frozenset[str]] = frozenset()  # the cell's arguments, read on the layer (lstm.units)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "cell_class" in cls.__dict__:  # derived, so a new cell argument reads through with no list to edit
            cls.cell_attrs = frozenset(cell_params(cls.cell_class))

    def __getattr__(self, name: str) -> Any:
        # Keras exposes the cell's settings on the layer: lstm.units, lstm.dropout ...
        try:
            return super().__getattr__(name)
        except AttributeError:
            modules = self.__dict__.get("_modules", {})
            cell = modules.get("cell")
            if cell is not None and name in self.cell_attrs:
                return getattr(cell, name)
            raise

    def get_config(self) -> dict[str, Any]:
        cell_config = self.cell.get_config()
        cell_config.pop("name", None)
        cell_config.pop("trainable", None)
        return {**super().get_config(), **cell_config}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RNN:
        return cls(**config)

    def _init_from_args(self, args: dict[str, Any]) -> None:
        """Build the cell from the layer's own arguments and initialize the RNN with the rest.

        Each layer spells out every Keras argument in its signature, so users, IDEs and docs
        see them; this routes them without a second copy of the list: the cell's arguments
        to ``cell_class``, the RNN flags and anything else (``name``, ...) to :class:`RNN`.
        Keras's ``use_cudnn`` is accepted as rnnkit's ``use_fused``.
        """
        args = {k: v for k, v in args.items() if k not in ("self", "__class__")}
        extra = args.pop("kwargs", {})
        if "use_cudnn" in extra:
            args["use_fused"] = extra.pop("use_cudnn")
        cell_args = {k: args.pop(k) for k in list(args) if k in self.cell_attrs}
        RNN.__init__(self, self._make_cell(cell_args), **args, **extra)

    def _make_cell(self, cell_args: dict[str, Any]) -> Layer:
        return self.cell_class(**cell_args, name=self.cell_name)


class BuiltinRNN(FlatRNN):
    """Base of SimpleRNN, LSTM and GRU: a :class:`FlatRNN` around one fully connected built-in cell."""

    cell: RecurrentCell
    cell_class: ClassVar[type[RecurrentCell]]
