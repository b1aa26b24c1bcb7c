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
appendix). Both are h_t = a_t h_{t-1} + b_t with a_t, b_t from x alone. On a GPU,
:func:`rnnkit.core.parallel_scan.log_space_scan` computes every h_t at once (kernel
``parallel-scan``). On a CPU (``mode="auto"``) there is no parallelism over time to win
and PyTorch's logcumsumexp is a scalar loop, so the recurrence runs in time order:
``linear-scan:cpp`` (``kernels/csrc/min_scan.cpp``) computes the gates and the
recurrence in one pass per batch row, forward and backward -- the elementwise ops that
build a_t and b_t as whole (B, T, H) tensors cost more than a GRU's recurrent GEMMs --
and ``linear-scan:python`` (:func:`~rnnkit.core.parallel_scan.linear_recurrence`) runs
when the C++ kernel is off. The cells also run one step at a time (the Keras cell
contract), which is how a decoder uses them; all modes give the same outputs (tested).
As cells of :class:`~rnnkit.layers.recurrent.RNN` they take masks, ``go_backwards``,
``stateful``, ``return_state`` and :class:`Bidirectional`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from rnnkit.core import initializers as init_mod
from rnnkit.core.parallel_scan import linear_recurrence, log_space_scan
from rnnkit.errors import ConfigError, invalid
from rnnkit.kernels import KernelChoice, SequenceOptions, SequenceResult, native
from rnnkit.layers.base import Layer, Shape
from rnnkit.layers.core_layers import check_last_dim, check_positive_int, check_rate
from rnnkit.layers.recurrent import RNN

Tensor = torch.Tensor
# auto: the log-space parallel scan on CUDA, the elementwise linear recurrence on CPU;
# parallel: always the log-space scan; sequential: the cell's own step, autograd through T steps.
MODES = ("auto", "parallel", "sequential")


def g(v: Tensor) -> Tensor:
    """The positive activation of the min-RNNs: v + 0.5 (v >= 0), sigmoid(v) (v < 0)."""
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_g(v: Tensor) -> Tensor:
    """log g(v), computed stably: log(relu(v) + 0.5) or -softplus(-v)."""
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


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
        return [self.weight.new_zeros(batch_size, self.units)]

    def coefficients(self, proj: Tensor) -> tuple[Tensor, Tensor]:
        """(log a, log b) of h_t = a_t h_{t-1} + b_t from the projection (..., G*H)."""
        raise NotImplementedError

    def call(self, inputs: Tensor, states: Any, training: bool = False) -> tuple[Tensor, list[Tensor]]:
        """One step (the sequential mode): h_t = a_t h_{t-1} + b_t."""
        h = states if isinstance(states, Tensor) else states[0]
        check_last_dim(self, inputs, self.input_dim)
        log_a, log_b = self.coefficients(F.linear(inputs, self.weight, self.bias))
        h = torch.exp(log_a) * h + torch.exp(log_b)
        return h, [h]

    def run_sequence(
        self, x: Tensor, state0: tuple[Tensor, ...], opts: SequenceOptions, mode: str
    ) -> tuple[SequenceResult, KernelChoice]:
        """The whole sequence at once with the log-space scan (or step by step for ``mode='sequential'``)."""
        xs = x.flip(1) if opts.go_backwards else x  # processing order, as Keras's go_backwards
        mask = None if opts.mask is None else (opts.mask.flip(1) if opts.go_backwards else opts.mask)
        if opts.input_dropout_mask is not None:
            xs = xs * opts.input_dropout_mask.unsqueeze(1)
        proj = F.linear(xs, self.weight, self.bias)  # (B, T, G*H)
        if mode == "auto":
            mode = "parallel" if x.is_cuda else "linear"
        blocker = native.min_scan_blocker(x) if mode == "linear" else None
        if mode == "linear" and blocker is None:
            # Gates and recurrence in one C++ pass per batch row (kernels/csrc/min_scan.cpp).
            hs = native.MinScan.apply(self.gates, proj, state0[0], None if mask is None else mask.bool())
            choice = KernelChoice("linear-scan:cpp", "CPU: gates and recurrence in one C++ pass")
            return self._finish(hs, mask, opts), choice
        log_a, log_b = self.coefficients(proj)  # (B, T, H) each
        if mask is not None:
            # A masked step keeps the state: a = 1, b = 0 (log b -> a very negative number, not -inf,
            # so logcumsumexp's gradient stays finite).
            m = mask.unsqueeze(-1)
            log_a = log_a.masked_fill(~m, 0.0)
            log_b = log_b.masked_fill(~m, torch.finfo(log_b.dtype).min / 4)
        if mode == "linear":
            # On CPU: one elementwise multiply-add per step, no logcumsumexp (see linear_recurrence).
            hs = linear_recurrence(torch.exp(log_a), torch.exp(log_b), state0[0])
            choice = KernelChoice("linear-scan:python", f"CPU: elementwise recurrence in Python ({blocker})")
        elif mode == "sequential":
            h = state0[0]
            outs = []
            for la, lb in zip(log_a.unbind(1), log_b.unbind(1), strict=True):
                h = torch.exp(la) * h + torch.exp(lb)
                outs.append(h)
            hs = torch.stack(outs, dim=1)
            choice = KernelChoice("sequential", "mode='sequential'")
        else:
            hs = log_space_scan(log_a, log_b, state0[0])
            choice = KernelChoice("parallel-scan", "log-space scan over time")
        return self._finish(hs, mask, opts), choice

    @staticmethod
    def _finish(hs: Tensor, mask: Tensor | None, opts: SequenceOptions) -> SequenceResult:
        """The layer's outputs from every step's state hs (B, T, H), as Keras masks them."""
        if mask is not None:
            valid = mask if opts.zero_output_for_mask else mask.int().cummax(dim=1).values.bool()
            outs_t = hs * valid.unsqueeze(-1).to(hs.dtype)
        else:
            outs_t = hs
        return SequenceResult(outs_t[:, -1], outs_t if opts.return_sequences else None, (hs[:, -1],))

    def dropout_masks(self, x_t: Tensor, h_t: Tensor, training: bool) -> tuple[Tensor | None, Tensor | None]:
        if not (training and self.dropout):
            return None, None
        gen = None
        if self.seed is not None:
            if self._generator is None or self._generator.device != x_t.device:
                self._generator = torch.Generator(device=x_t.device).manual_seed(int(self.seed))
            gen = self._generator
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

    def coefficients(self, proj: Tensor) -> tuple[Tensor, Tensor]:
        k, v = proj.chunk(2, dim=-1)
        # log(1 - sigmoid(k)) = -softplus(k);  log(sigmoid(k) * g(v)) = -softplus(-k) + log g(v)
        return -F.softplus(k), -F.softplus(-k) + log_g(v)


class MinLSTMCell(_MinCell):
    """minLSTM: gates f, i, h~ from x only, normalized so f' + i' = 1. ``weight (3H, D)`` rows [f, i, h]."""

    gates = 3

    def coefficients(self, proj: Tensor) -> tuple[Tensor, Tensor]:
        kf, ki, v = proj.chunk(3, dim=-1)
        # f' = f / (f + i): log f' = -softplus(log i - log f), with log sigmoid(k) = -softplus(-k);
        # likewise log i' = -softplus(log f - log i) (the paper's appendix code).
        diff = F.softplus(-kf) - F.softplus(-ki)  # log i - log f
        return -F.softplus(diff), -F.softplus(-diff) + log_g(v)


class _MinRNN(RNN):
    """An RNN around a min-cell; ``mode`` picks the parallel scan or the step loop."""

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
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(invalid("mode", mode, MODES))
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
            use_fused=False,
            **kwargs,
        )
        self.mode = mode

    def _run_cell(
        self, cell: Any, x: Tensor, state0: tuple[Tensor, ...], **flags: Any
    ) -> tuple[SequenceResult, KernelChoice]:
        dmask, _ = cell.dropout_masks(x[:, 0], state0[0], flags["training"])
        opts = SequenceOptions(input_dropout_mask=dmask, **flags)
        return cell.run_sequence(x, state0, opts, self.mode)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("use_fused", None)
        config.pop("unroll", None)
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
