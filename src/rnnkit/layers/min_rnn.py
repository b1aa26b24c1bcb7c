"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): recurrences whose
gates depend on x_t only, so training runs as a parallel scan over time.

minGRU::

    z_t = sigmoid(x_t W_z^T + b_z)          h~_t = g(x_t W_h^T + b_h)
    h_t = (1 - z_t) * h_{t-1} + z_t * h~_t

minLSTM::

    f_t = sigmoid(x W_f^T + b_f)   i_t = sigmoid(x W_i^T + b_i)   h~_t = g(x W_h^T + b_h)
    f'_t, i'_t = f_t / (f_t + i_t), i_t / (f_t + i_t)             (paper sec. 3.2.3)
    h_t = f'_t * h_{t-1} + i'_t * h~_t

with g(v) = v + 0.5 for v >= 0, sigmoid(v) otherwise (positive, so log g exists; paper
appendix). Both are h_t = a_t h_{t-1} + b_t with a_t, b_t from x alone.

The kernels live in :mod:`rnnkit.kernels.min_scan` and :func:`rnnkit.kernels.choose_kernel`
picks one, as for every other cell: on a GPU the log-space ``parallel-scan`` (fused family);
on a CPU the recurrence in time order, ``linear-scan:cpp`` (gates and recurrence in one C++
pass per batch row) or ``linear-scan:python`` when the C++ kernel is off (fast family);
``sequential`` steps with autograd through T (reference). ``use_fused`` and
``with kernels.force(...)`` reach these layers; ``mode="parallel"`` is ``use_fused=True``
and ``mode="sequential"`` the reference loop. The cells also run one step at a time (the
Keras cell contract), which is how a decoder uses them; all kernels give the same outputs
(tested).
As cells of :class:`~rnnkit.layers.recurrent.RNN` they take masks, ``go_backwards``,
``stateful``, ``return_state`` and :class:`Bidirectional`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from rnnkit.core import initializers as init_mod
from rnnkit.errors import ConfigError, invalid
from rnnkit.kernels import KernelChoice, MinParams, SequenceOptions, SequenceResult, run_sequence
from rnnkit.kernels.min_scan import g, log_g, min_coefficients
from rnnkit.layers.base import Layer, Shape
from rnnkit.layers.core_layers import check_last_dim, check_positive_int, check_rate, seeded_generator
from rnnkit.layers.recurrent import RNN

__all__ = ["MinGRU", "MinGRUCell", "MinLSTM", "MinLSTMCell", "g", "log_g"]

Tensor = torch.Tensor
# auto: kernels.choose_kernel decides (use_fused as for any layer); parallel: the log-space scan
# (= use_fused=True); sequential: the step loop, autograd through T steps (the reference kernel).
MODES = ("auto", "parallel", "sequential")


class _MinCell(Layer):
    """Shared weights and plumbing: one input projection ``weight (G*H, D)``, ``bias (G*H,)``."""

    gates: ClassVar[int] = 2

    def __init__(
        self,
        units: int,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        dropout: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = init_mod.get(kernel_initializer, argument="kernel_initializer")
        self.bias_initializer = init_mod.get(bias_initializer, argument="bias_initializer")
        self.dropout = check_rate("dropout", dropout)
        self.seed = seed
        self.input_dim: int | None = None
        self._generator: torch.Generator | None = None

    @property
    def state_size(self) -> int:
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    def build(self, input_shape: Shape) -> None:
        self.input_dim = int(input_shape[-1])  # type: ignore[arg-type]
        G = self.gates * self.units
        self.add_weight("weight", (G, self.input_dim), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (G,), self.bias_initializer)
        else:
            self.register_parameter("bias", None)
        super().build(input_shape)

    def get_initial_state(self, batch_size: int) -> list[Tensor]:
        return [self.params().weight.new_zeros(batch_size, self.units)]

    def params(self) -> MinParams:
        """The weights as the kernels take them."""
        return MinParams(self.gates, self.weight, self.bias)  # type: ignore[arg-type]  # nn.Module attributes

    def coefficients(self, proj: Tensor) -> tuple[Tensor, Tensor]:
        """(log a, log b) of h_t = a_t h_{t-1} + b_t from the projection (..., G*H)."""
        return min_coefficients(self.gates, proj)

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> tuple[Tensor, list[Tensor]]:
        """One step (the sequential mode): h_t = a_t h_{t-1} + b_t."""
        h = states if isinstance(states, Tensor) else states[0]
        check_last_dim(self, inputs, self.input_dim)
        p = self.params()
        log_a, log_b = self.coefficients(F.linear(inputs, p.weight, p.bias))
        h = torch.exp(log_a) * h + torch.exp(log_b)
        return h, [h]

    def dropout_masks(self, x_t: Tensor, h_t: Tensor, training: bool) -> tuple[Tensor | None, Tensor | None]:
        if not (training and self.dropout):
            return None, None
        gen = seeded_generator(self, x_t.device)
        keep = torch.rand(x_t.shape, device=x_t.device, generator=gen) >= self.dropout
        return keep.to(x_t.dtype) / (1.0 - self.dropout), None

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "use_bias": self.use_bias,
            "kernel_initializer": init_mod.serialize(self.kernel_initializer),
            "bias_initializer": init_mod.serialize(self.bias_initializer),
            "dropout": self.dropout,
            "seed": self.seed,
        }


class MinGRUCell(_MinCell):
    """minGRU: gates z, h~ from x only. ``weight (2H, D)`` rows [z, h]."""

    gates = 2


class MinLSTMCell(_MinCell):
    """minLSTM: gates f, i, h~ from x only, normalized so f' + i' = 1. ``weight (3H, D)`` rows [f, i, h]."""

    gates = 3


class _MinRNN(RNN):
    """An RNN around a min-cell; ``use_fused`` and ``mode`` steer :func:`kernels.choose_kernel`."""

    cell_class: ClassVar[type[_MinCell]]

    def __init__(
        self,
        units: int,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        dropout: float = 0.0,
        seed: int | None = None,
        mode: str = "auto",
        use_fused: str | bool = "auto",
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(invalid("mode", mode, MODES))
        if mode != "auto" and use_fused != "auto":
            raise ConfigError(
                invalid("use_fused", use_fused, f"'auto' with mode={mode!r} (mode already picks the kernel)")
            )
        cell = self.cell_class(
            units,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            dropout=dropout,
            seed=seed,
            name=f"{self.cell_class.__name__[:-4].lower()}_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            zero_output_for_mask=zero_output_for_mask,
            use_fused=True if mode == "parallel" else use_fused,
            unroll=mode == "sequential",
            **kwargs,
        )
        self.mode = mode

    def _run_cell(
        self, cell: Any, x: Tensor, state0: tuple[Tensor, ...], **flags: Any
    ) -> tuple[SequenceResult, KernelChoice]:
        dmask, _ = cell.dropout_masks(x[:, 0], state0[0], flags["training"])
        opts = SequenceOptions(input_dropout_mask=dmask, **flags)
        return run_sequence(cell.params(), x, state0, opts, use_fused=self.use_fused, unroll=self.unroll)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("unroll", None)  # mode carries it
        if self.mode != "auto":
            config["use_fused"] = "auto"  # likewise
        cell = self.cell.get_config()
        cell.pop("name", None)
        cell.pop("trainable", None)
        return {**config, **cell, "mode": self.mode}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RNN:
        return cls(**config)


class MinGRU(_MinRNN):
    """minGRU layer (parallel scan in training, a cheap step at decoding)."""

    cell_class = MinGRUCell


class MinLSTM(_MinRNN):
    """minLSTM layer (parallel scan in training, a cheap step at decoding)."""

    cell_class = MinLSTMCell
