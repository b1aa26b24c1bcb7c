"""The fused kernel equals the reference loop, forward and backward, over every flag it serves."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch
from tests.helpers import assert_close_all, grads_of, right_padded_mask

from rnnkit.core.cells import GATES, CellParams
from rnnkit.errors import KernelError
from rnnkit.kernels import (
    SequenceOptions,
    fused_blocker,
    mask_blocker,
    native,
    run_fused,
    run_reference,
    run_sequence,
)

B, T, D, H = 3, 5, 4, 6
KINDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
FLAGS = list(
    itertools.product(
        KINDS, [False, True], [False, True], [False, True], [False, True], [False, True], [False, True]
    )
)


def _setup(kind: str, use_bias: bool):
    base = kind.split("_")[0]
    act = torch.relu if kind == "rnn_relu" else torch.tanh
    G = GATES[base] * H
    w = [torch.randn(G, D) * 0.5, torch.randn(G, H) * 0.5]
    b = [torch.randn(G) * 0.1, torch.randn(G) * 0.1] if use_bias else [None, None]
    tensors = [t.requires_grad_() for t in w + b if t is not None]
    p = CellParams(base, w[0], w[1], b[0], b[1], act)
    return p, tensors


@pytest.mark.parametrize(("kind", "backwards", "masked", "seqs", "zero_out", "init", "use_bias"), FLAGS)
def test_fused_equals_reference(kind, backwards, masked, seqs, zero_out, init, use_bias) -> None:
    p, weights = _setup(kind, use_bias)
    x = torch.randn(B, T, D, requires_grad=True)
    n_states = 2 if p.kind == "lstm" else 1
    state0 = tuple(
        (torch.randn(B, H) if init else torch.zeros(B, H)).requires_grad_() for _ in range(n_states)
    )
    mask = right_padded_mask([5, 2, 4], T) if masked else None
    dmask = (torch.rand(B, D) > 0.3).float() / 0.7  # input dropout is fused-eligible
    opts = SequenceOptions(
        mask=mask,
        go_backwards=backwards,
        zero_output_for_mask=zero_out,
        return_sequences=seqs,
        training=True,
        input_dropout_mask=dmask,
    )
    assert fused_blocker(p, opts) is None
    assert mask is None or mask_blocker(mask) is None
    tensors = [x, *state0, *weights]

    def run(fn):
        r = fn(p, x, state0, opts)
        return (r.last_output, *r.states) + ((r.outputs,) if seqs else ())

    out_f, g_f = grads_of(lambda: run(run_fused), tensors)
    out_r, g_r = grads_of(lambda: run(run_reference), tensors)
    assert_close_all(out_f, out_r)
    assert_close_all(g_f, g_r)


def test_blockers_name_the_reason() -> None:
    p, _ = _setup("lstm", True)
    assert fused_blocker(p, SequenceOptions(recurrent_dropout_mask=torch.ones(B, H))) == (
        "recurrent_dropout > 0 while training"
    )
    assert fused_blocker(p, SequenceOptions(zoneout=0.1)) == "zoneout > 0"
    assert fused_blocker(p, SequenceOptions(), unroll=True) == "unroll=True"
    p_sig = CellParams("lstm", p.weight_ih, p.weight_hh, None, None, torch.relu)
    assert (
        fused_blocker(p_sig, SequenceOptions())
        == "activation must be 'tanh' and recurrent_activation 'sigmoid'"
    )
    # _VF takes both biases or neither: a cell with b_ih alone would lose it there.
    one_bias = dataclasses.replace(p, bias_hh=None)
    assert fused_blocker(one_bias, SequenceOptions()) == (
        "one of the two biases only (the fused kernels take both or neither)"
    )
    x = torch.randn(B, T, D)
    state0 = (torch.zeros(B, H), torch.zeros(B, H))
    got, choice = run_sequence(one_bias, x, state0, SequenceOptions(return_sequences=True))
    assert not choice.name.startswith("fused")
    want = run_reference(one_bias, x, state0, SequenceOptions(return_sequences=True))
    torch.testing.assert_close(got.outputs, want.outputs)
    left = right_padded_mask([5, 2, 4], T).flip(1)
    assert mask_blocker(left) == "the mask is not right-padded (left padding or holes)"
    empty = right_padded_mask([5, 0, 4], T)
    assert mask_blocker(empty) == "the mask has a sequence with no real step"


def test_use_fused_true_on_ineligible_raises() -> None:
    p, _ = _setup("gru", True)
    x = torch.randn(B, T, D)
    opts = SequenceOptions(zoneout=0.2)
    with pytest.raises(
        KernelError, match=r"^use_fused=True cannot run this layer: zoneout > 0\. Pass use_fused='auto'"
    ):
        run_sequence(p, x, (torch.zeros(B, H),), opts, use_fused=True)
    _, choice = run_sequence(p, x, (torch.zeros(B, H),), opts)
    assert (choice.name, choice.reason) == ("fast:python", "fused kernel refused: zoneout > 0")
    _, choice = run_sequence(p, x, (torch.zeros(B, H),), SequenceOptions(), use_fused=True)
    assert (choice.name, choice.reason) == ("fused:aten", "eligible")
    _, choice = run_sequence(p, x, (torch.zeros(B, H),), SequenceOptions())
    expected = ("fast:cpp", "faster than ATen's per-step GRU/SimpleRNN loop on CPU")
    with native.use_native(False):
        _, no_cpp = run_sequence(p, x, (torch.zeros(B, H),), SequenceOptions())
    if native.available():
        assert (choice.name, choice.reason) == expected
    assert (no_cpp.name, no_cpp.reason) == ("fused:aten", "eligible")  # without the C++ loop


@pytest.mark.parametrize("backwards", [False, True])
def test_masked_lstm_without_final_states_runs_dense_and_matches(backwards: bool) -> None:
    # need_states=False: the fused kernel skips packing (which leaves oneDNN on CPU) and reads
    # h_T off the outputs; the final c is not computed and must not be read.
    p, weights = _setup("lstm", True)
    x = torch.randn(B, T, D, requires_grad=True)
    state0 = (torch.zeros(B, H), torch.zeros(B, H))
    mask = right_padded_mask([5, 2, 4], T)
    opts = SequenceOptions(mask=mask, go_backwards=backwards, need_states=False, zero_output_for_mask=True)

    def run(fn):
        r = fn(p, x, state0, opts)
        return r.outputs, r.last_output, r.states[0]

    out_f, g_f = grads_of(lambda: run(run_fused), [x, *weights])
    out_r, g_r = grads_of(lambda: run(run_reference), [x, *weights])
    assert_close_all(out_f, out_r)
    assert_close_all(g_f, g_r)


def test_masked_lstm_asking_for_its_final_states_takes_the_cpp_loop_not_packing() -> None:
    p, _ = _setup("lstm", True)
    x = torch.randn(B, T, D)
    right = right_padded_mask([5, 2, 4], T)
    state0 = (torch.zeros(B, H), torch.zeros(B, H))
    _, dense = run_sequence(p, x, state0, SequenceOptions(mask=right, need_states=False))
    assert dense.name == "fused:onednn"  # the final c is not needed: no packing
    r, choice = run_sequence(p, x, state0, SequenceOptions(mask=right, need_states=True))
    if native.available():
        why = "faster than the packed fused LSTM (a right-padded mask and the final states)"
        assert (choice.name, choice.reason) == ("fast:cpp", why)
    ref = run_reference(p, x, state0, SequenceOptions(mask=right, need_states=True))
    for got, want in zip(r.states, ref.states, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    _, forced = run_sequence(p, x, state0, SequenceOptions(mask=right, need_states=True), use_fused=True)
    assert forced.name == "fused:onednn"  # use_fused=True still packs
