"""PyTorch's fused RNN kernels (cuDNN on GPU, oneDNN LSTM and ATen's loops on CPU).

They run the whole sequence in C++ from ``torch._VF`` -- the same entry points
``torch.nn.LSTM/GRU/RNN`` call -- so a layer that is eligible costs what
``torch.nn`` costs. Eligibility is one predicate, :func:`fused_blocker`, which
names what stands in the way; right-padded masks are also served (checked at
run time by :func:`mask_blocker`).

Keras semantics are restored on top of the fused result: at padded steps the
output repeats the last real output (or is zero with ``zero_output_for_mask``),
``go_backwards`` outputs are in processing order, and with padding the backward
pass starts at each sequence's true end.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import _VF
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.core.cells import CellParams, State
from rnnkit.kernels.reference import SequenceOptions, SequenceResult

Tensor = torch.Tensor


def fused_blocker(p: CellParams, opts: SequenceOptions, *, unroll: bool = False) -> str | None:
    """Why the fused kernel cannot run this configuration, or None if it can."""
    tanh, sigmoid = torch.tanh, torch.sigmoid
    if p.kind in ("lstm", "gru") and (p.activation is not tanh or p.recurrent_activation is not sigmoid):
        return "activation must be 'tanh' and recurrent_activation 'sigmoid'"
    if p.kind == "rnn" and p.activation not in (tanh, torch.relu):
        return "activation must be 'tanh' or 'relu'"
    if p.kind == "gru" and not p.reset_after:
        return "reset_after=False (the fused GRU is the reset_after=True variant)"
    if (p.bias_ih is None) != (p.bias_hh is None):
        return "one of the two biases only (the fused kernels take both or neither)"
    if p.layer_norm is not None:
        return "layer_norm=True"
    if opts.zoneout:
        return "zoneout > 0"
    if opts.recurrent_dropout_mask is not None:
        return "recurrent_dropout > 0 while training"
    if unroll:
        return "unroll=True"
    return None


def mask_blocker(mask: Tensor) -> str | None:
    """Fused kernels take right padding only, and no empty sequence. Needs one host sync."""
    lengths = mask.sum(dim=1)  # (B,)
    steps = torch.arange(mask.shape[1], device=mask.device)
    right_padded = bool(((steps.unsqueeze(0) < lengths.unsqueeze(1)) == mask).all())
    if not right_padded:
        return "the mask is not right-padded (left padding or holes)"
    if bool((lengths == 0).any()):
        return "the mask has a sequence with no real step"
    return None


def _reverse_within_length(x: Tensor, lengths: Tensor) -> Tensor:
    """x[b, :len_b] reversed in time, padding left in place. x: (B, T, D)."""
    B, T = x.shape[:2]
    t = torch.arange(T, device=x.device).unsqueeze(0)  # (1, T)
    lens = lengths.unsqueeze(1)  # (B, 1)
    idx = torch.where(t < lens, lens - 1 - t, t)  # (B, T)
    return x.gather(1, idx.unsqueeze(-1).expand(B, T, x.shape[2]))


def _params(p: CellParams) -> list[Tensor]:
    if p.bias_ih is None or p.bias_hh is None:
        return [p.weight_ih, p.weight_hh]
    return [p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh]


def _vf(p: CellParams) -> object:
    if p.kind == "lstm":
        return _VF.lstm
    if p.kind == "gru":
        return _VF.gru
    return _VF.rnn_tanh if p.activation is torch.tanh else _VF.rnn_relu


def _run_dense(p: CellParams, x: Tensor, state0: State, training: bool) -> tuple[Tensor, State]:
    params, has_bias = _params(p), p.bias_ih is not None
    hx = [s.unsqueeze(0) for s in state0]  # (B, H) -> (1, B, H): one layer, one direction
    fn = _vf(p)
    if p.kind == "lstm":
        out, h_n, c_n = fn(x, hx, params, has_bias, 1, 0.0, training, False, True)  # type: ignore[operator]
        return out, (h_n[0], c_n[0])
    out, h_n = fn(x, hx[0], params, has_bias, 1, 0.0, training, False, True)  # type: ignore[operator]
    return out, (h_n[0],)


def run_fused_pair(
    pf: CellParams, pb: CellParams, x: Tensor, state_f: State, state_b: State, training: bool
) -> tuple[Tensor, State, State]:
    """Both directions of a bidirectional layer in one fused call (what
    ``torch.nn.LSTM(bidirectional=True)`` runs): no second pass over x and no flips.

    out (B, T, 2H) is [forward, backward] in time order; the backward half read the sequence
    from its end, as a ``go_backwards=True`` layer does. The cells must match in kind,
    activation, units and biases (:func:`pair_blocker`).
    """
    params, has_bias = _params(pf) + _params(pb), pf.bias_ih is not None
    hx = [torch.stack([a, b]) for a, b in zip(state_f, state_b, strict=True)]  # (2, B, H)
    fn = _vf(pf)
    if pf.kind == "lstm":
        out, h_n, c_n = fn(x, hx, params, has_bias, 1, 0.0, training, True, True)  # type: ignore[operator]
        return out, (h_n[0], c_n[0]), (h_n[1], c_n[1])
    out, h_n = fn(x, hx[0], params, has_bias, 1, 0.0, training, True, True)  # type: ignore[operator]
    return out, (h_n[0],), (h_n[1],)


def pair_blocker(pf: CellParams, pb: CellParams) -> str | None:
    """Why two directions' cells cannot share one fused call, or None if they can."""
    if pf.kind != pb.kind or pf.units != pb.units:
        return "the directions differ in cell kind or units"
    if pf.activation is not pb.activation:
        return "the directions differ in activation"
    if (pf.bias_ih is None) != (pb.bias_ih is None):  # each has both or neither (fused_blocker)
        return "one direction has biases, the other not"
    return None


def _run_packed(
    p: CellParams, x: Tensor, state0: State, lengths: Tensor, training: bool
) -> tuple[Tensor, State]:
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    # enforce_sorted=False always sets both index tensors.
    order, unorder = cast(Tensor, packed.sorted_indices), cast(Tensor, packed.unsorted_indices)
    hx = [s.index_select(0, order).unsqueeze(0) for s in state0]
    params, has_bias = _params(p), p.bias_ih is not None
    fn = _vf(p)
    if p.kind == "lstm":
        out, h_n, c_n = fn(packed.data, packed.batch_sizes, hx, params, has_bias, 1, 0.0, training, False)  # type: ignore[operator]
        states: State = (h_n[0].index_select(0, unorder), c_n[0].index_select(0, unorder))
    else:
        out, h_n = fn(packed.data, packed.batch_sizes, hx[0], params, has_bias, 1, 0.0, training, False)  # type: ignore[operator]
        states = (h_n[0].index_select(0, unorder),)
    seq = PackedSequence(out, packed.batch_sizes, order, unorder)
    padded, _ = pad_packed_sequence(seq, batch_first=True, total_length=x.shape[1])
    return padded, states


def run_fused(p: CellParams, x: Tensor, state0: State, opts: SequenceOptions) -> SequenceResult:
    """Run an eligible cell with PyTorch's fused kernel; same results as the reference kernel."""
    B, T = x.shape[:2]
    if opts.input_dropout_mask is not None:
        x = x * opts.input_dropout_mask.unsqueeze(1)  # (B, D) -> (B, 1, D)
    lengths = None
    if opts.mask is not None:
        lengths = opts.mask.sum(dim=1)
        if bool((lengths == T).all()):
            lengths = None  # a mask with no padding is no mask
    if opts.go_backwards:
        x = x.flip(1) if lengths is None else _reverse_within_length(x, lengths)

    if lengths is None:
        run, states = _run_dense(p, x, state0, opts.training)
        outputs = run if opts.return_sequences else None
        return SequenceResult(run[:, -1], outputs, states)

    if p.kind == "lstm" and opts.need_states:
        # The cell state at each sequence's end is not among the outputs: pack.
        # (Packed input leaves oneDNN's fast path on CPU, so this runs only when asked.)
        run, states = _run_packed(p, x, state0, lengths, opts.training)
    else:
        # Right padding cannot change the real steps, so run dense (oneDNN/cuDNN
        # friendly) and read each sequence's final h off its last real output.
        # An LSTM's final c is not among the outputs; the caller said it will not read it.
        run, _ = _run_dense(p, x, state0, opts.training)
        H = run.shape[2]
        last_idx = (lengths - 1).view(B, 1, 1).expand(B, 1, H)
        h_n = run.gather(1, last_idx).squeeze(1)
        states = (h_n, torch.full_like(h_n, float("nan"))) if p.kind == "lstm" else (h_n,)
    h_last = states[0]

    if not opts.go_backwards:
        valid = opts.mask  # right-padded: real steps first
        last = h_last
        if opts.zero_output_for_mask:
            last = torch.where(valid[:, -1:], h_last, torch.zeros_like(h_last))  # type: ignore[index]
        if not opts.return_sequences:
            return SequenceResult(last, None, states)
        fill = torch.zeros_like(run) if opts.zero_output_for_mask else h_last.unsqueeze(1).expand_as(run)
        return SequenceResult(last, torch.where(valid.unsqueeze(-1), run, fill), states)  # type: ignore[union-attr]

    # go_backwards: Keras's step i reads time T-1-i, so the padding comes first
    # (output 0) and real step k of the reversed sequence sits at i = T - len + k.
    if not opts.return_sequences:
        return SequenceResult(h_last, None, states)
    i = torch.arange(T, device=x.device).unsqueeze(0)  # (1, T)
    shift = (T - lengths).unsqueeze(1)  # (B, 1)
    valid = i >= shift  # (B, T)
    src = (i - shift).clamp_min(0)
    H = run.shape[2]
    out = run.gather(1, src.unsqueeze(-1).expand(B, T, H))
    out = torch.where(valid.unsqueeze(-1), out, torch.zeros_like(out))
    return SequenceResult(h_last, out, states)
