"""Bidirectional: one RNN reads the sequence forwards, a copy reads it backwards.

    y_fwd = forward_layer(x);  y_bwd = flip_time(backward_layer(x))   (go_backwards=True)
    y = merge(y_fwd, y_bwd)     merge in MERGE_FNS: concat | sum | mul | ave | None (both)

As in Keras, both directions are rebuilt from ``layer``'s config (fresh weights),
and with ``return_sequences`` each direction outputs zeros at masked steps. With a
mask, the backward direction starts at each sequence's true end: the padded steps
it reads first carry its initial state unchanged.

One deliberate difference: the twin reads in the direction opposite to ``layer``'s
(Keras 2's rule), so a ``go_backwards=True`` layer gets a forward-reading twin.
Keras 3 always sets the twin's ``go_backwards=True`` and so raises for such a layer.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch

from rnnkit.errors import ConfigError, RnnkitError, invalid
from rnnkit.kernels import KernelChoice, SequenceOptions, choose_kernel, pair_blocker, run_fused_pair
from rnnkit.layers.base import Layer, Shape, deserialize_layer, serialize_layer
from rnnkit.layers.cell import RecurrentCell
from rnnkit.layers.recurrent import RNN

Tensor = torch.Tensor

MERGE_FNS: dict[str | None, Callable[[Tensor, Tensor], Tensor] | None] = {
    "concat": lambda a, b: torch.cat([a, b], dim=-1),
    "sum": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "ave": lambda a, b: (a + b) / 2,
    None: None,  # return both directions
}


def _clone(layer: RNN, **overrides: Any) -> RNN:
    try:
        return type(layer).from_config({**layer.get_config(), **overrides})
    except RnnkitError:
        # A user-defined cell that cannot be serialized: copy it instead.
        twin = copy.deepcopy(layer)
        for k, v in overrides.items():
            setattr(twin, k, v)
        return twin


class Bidirectional(Layer):
    """Runs ``layer`` forwards and a twin backwards and merges them with ``merge_mode``."""

    supports_masking = True

    def __init__(
        self,
        layer: RNN,
        merge_mode: str | None = "concat",
        backward_layer: RNN | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(layer, RNN):
            raise ConfigError(
                invalid("layer", type(layer).__name__, "an rnnkit RNN layer (SimpleRNN, LSTM, GRU, RNN)")
            )
        if merge_mode not in MERGE_FNS:
            raise ConfigError(invalid("merge_mode", merge_mode, list(MERGE_FNS)))
        if backward_layer is not None and not isinstance(backward_layer, RNN):
            raise ConfigError(
                invalid("backward_layer", type(backward_layer).__name__, "an rnnkit RNN layer or None")
            )
        self.merge_mode = merge_mode
        self.forward_layer = _clone(layer, name=f"forward_{layer.name.removeprefix('forward_')}")
        if backward_layer is None:
            backward_layer = _clone(
                layer,
                go_backwards=not layer.go_backwards,
                name=f"backward_{layer.name.removeprefix('backward_')}",
            )
        self.backward_layer = backward_layer
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == bwd.go_backwards:
            raise ConfigError(
                invalid(
                    "backward_layer.go_backwards",
                    bwd.go_backwards,
                    f"{not fwd.go_backwards} (the opposite of layer's)",
                )
            )
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, attr) != getattr(bwd, attr):
                raise ConfigError(
                    invalid(f"backward_layer.{attr}", getattr(bwd, attr), f"{getattr(fwd, attr)} (layer's)")
                )
        for sub in (fwd, bwd):
            sub.zero_output_for_mask = sub.return_sequences  # Keras forces this
        self.return_sequences = fwd.return_sequences
        self.return_state = fwd.return_state
        self.stateful = fwd.stateful

    def build(self, input_shape: Shape) -> None:
        for sub in (self.forward_layer, self.backward_layer):
            self.build_sublayer(sub, input_shape)
        super().build(input_shape)

    def call(
        self, inputs: Tensor, initial_state: Any = None, mask: Tensor | None = None, training: bool = False
    ) -> Any:
        fwd_state = bwd_state = None
        if initial_state is not None:
            initial_state = list(initial_state)
            half = len(initial_state) // 2
            fwd_state, bwd_state = initial_state[:half], initial_state[half:]
        pair = self._run_pair(inputs, fwd_state, bwd_state, mask, training)
        if pair is not None:
            y, y_rev, states, both = pair
            if both is not None and self.merge_mode == "concat":
                return (both, *states) if self.return_state else both  # already [fwd, bwd]
        else:
            y = self.forward_layer(inputs, initial_state=fwd_state, mask=mask, training=training)
            y_rev = self.backward_layer(inputs, initial_state=bwd_state, mask=mask, training=training)
            states = ()
            if self.return_state:
                states = tuple(y[1:]) + tuple(y_rev[1:])
                y, y_rev = y[0], y_rev[0]
            if self.return_sequences:
                y_rev = y_rev.flip(1)  # processing order -> time order
        merge = MERGE_FNS[self.merge_mode]
        output: Any = (y, y_rev) if merge is None else merge(y, y_rev)
        if self.return_state:
            return (*output, *states) if merge is None else (output, *states)
        return output

    def _run_pair(
        self, inputs: Any, fwd_state: Any, bwd_state: Any, mask: Tensor | None, training: bool
    ) -> tuple[Tensor, Tensor, tuple[Tensor, ...], Tensor | None] | None:
        """Both directions in one fused call, when each alone would take the fused kernel and
        nothing differs between them but the weights: (y, y_rev in time order, states, the
        concatenated sequences or None). None when the two layers must run one by one."""
        fwd, bwd = self.forward_layer, self.backward_layer
        if mask is not None or fwd.stateful or fwd.go_backwards or not bwd.go_backwards:
            return None
        for layer in (fwd, bwd):
            cell = layer.cells[0] if len(layer.cells) == 1 else None
            if not isinstance(cell, RecurrentCell) or layer.activity_regularizer is not None:
                return None
            if training and (cell.dropout or cell.recurrent_dropout):
                return None  # a dropout mask per direction: two different inputs
        x = fwd._check_inputs(inputs)
        B = x.shape[0]
        cells = (fwd.cells[0], bwd.cells[0])
        params = tuple(c.params() for c in cells)
        if pair_blocker(*params) is not None:
            return None
        starts = []
        for i, (layer, state) in enumerate(((fwd, fwd_state), (bwd, bwd_state))):
            opts = SequenceOptions(go_backwards=i == 1, training=training, zoneout=cells[i].zoneout)
            choice = choose_kernel(params[i], x, opts, use_fused=layer.use_fused, unroll=layer.unroll)
            if not choice.name.startswith("fused:"):
                return None
            starts.append(tuple(layer._initial_states(state, B, x)))
        out, state_f, state_b = run_fused_pair(*params, x, starts[0], starts[1], training)
        chosen = KernelChoice(choice.name, f"{choice.reason}; both directions in one call")
        fwd.last_kernel = bwd.last_kernel = chosen
        H = out.shape[2] // 2
        states = (*state_f, *state_b) if self.return_state else ()
        if self.return_sequences:
            return out[..., :H], out[..., H:], states, out
        # The backward layer's last output is the one for time step 0.
        return out[:, -1, :H], out[:, 0, H:], states, None

    def compute_mask(self, inputs: Any, mask: Tensor | None = None) -> Tensor | None:
        return mask if self.return_sequences else None

    def compute_output_shape(self, input_shape: Shape) -> Any:
        out = self.forward_layer.compute_output_shape(input_shape)
        state_shapes: tuple[Any, ...] = ()
        if self.return_state:
            out, state_shapes = out[0], tuple(out[1:])
        if self.merge_mode == "concat":
            out = (*out[:-1], out[-1] * 2)
        result: Any = (out, out) if self.merge_mode is None else out
        if self.return_state:
            return (
                (*result, *state_shapes, *state_shapes)
                if self.merge_mode is None
                else (result, *state_shapes, *state_shapes)
            )
        return result

    def reset_states(self, indices: Any = None, batch_size: Any = "keep") -> None:
        self.forward_layer.reset_states(indices, batch_size)
        self.backward_layer.reset_states(indices, batch_size)

    @property
    def last_kernel(self) -> Any:
        return self.forward_layer.last_kernel

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "layer": serialize_layer(self.forward_layer),
            "merge_mode": self.merge_mode,
            "backward_layer": serialize_layer(self.backward_layer),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        config = dict(config)
        config["layer"] = deserialize_layer(config["layer"])
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize_layer(config["backward_layer"])
        return cls(**config)
