"""The gradient measurement against independent computations on tiny cases."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rnnkit.tasks.gradients import exploding_demo, gradient_profile, gradient_report, recurrent_spectra
from rnnkit.tasks.memory import adding_batch, build_model

B, T, H = 3, 6, 4


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: a second thread only adds synchronization, which on a shared 2-core machine
    under load costs more than the work (the exploding demo ran 25x slower with 2 threads)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    return adding_batch(B, T, generator=torch.Generator().manual_seed(5))


def _mean_norm(g: torch.Tensor) -> float:
    return float(g.norm(dim=-1).mean())


def test_simple_rnn_matches_the_explicit_jacobian_product():
    """dl/dh_t = (prod_{k>t} diag(1 - h_k^2) W_hh)^T dl/dh_T, written out by hand in float64."""
    model = build_model("simple", H, seed=1)
    x, y = _data()
    prof = gradient_profile(model, x, y)

    cell, head = model[0].cell, model[1]
    W_ih, W_hh = cell.weight_ih.detach().double(), cell.weight_hh.detach().double()
    b = (cell.bias_ih + cell.bias_hh).detach().double()
    W_out, b_out = head.weight.detach().double(), head.bias.detach().double()
    xd, yd = x.double(), y.double()
    hs = [torch.zeros(B, H, dtype=torch.float64)]  # hs[t] = h_t, h_0 = 0
    for t in range(T):
        hs.append(torch.tanh(xd[:, t] @ W_ih.T + hs[-1] @ W_hh.T + b))

    dh = torch.zeros(T, B, H, dtype=torch.float64)
    dx = torch.zeros(T, B, 2, dtype=torch.float64)
    for s in range(B):  # per sample: l_s = (W_out h_T + b_out - y_s)^2
        g = 2 * (W_out @ hs[T][s] + b_out - yd[s]) @ W_out  # (H,) dl/dh_T
        for t in range(T, 0, -1):
            J = torch.diag(1 - hs[t][s] ** 2) @ W_hh  # dh_t/dh_{t-1}
            dh[t - 1, s] = g
            dx[t - 1, s] = W_ih.T @ ((1 - hs[t][s] ** 2) * g)
            g = J.T @ g
    assert prof.dh == pytest.approx(dh.norm(dim=-1).mean(dim=1).tolist(), rel=1e-9)
    assert prof.dx == pytest.approx(dx.norm(dim=-1).mean(dim=1).tolist(), rel=1e-9)
    assert prof.ratio_h == pytest.approx(float(dh[0].norm(dim=-1).mean() / dh[-1].norm(dim=-1).mean()))

    # the hand-written product itself, against autograd.functional.jacobian of h_1 -> h_T
    def h1_to_hT(h1: torch.Tensor) -> torch.Tensor:
        h = h1
        for t in range(1, T):
            h = torch.tanh(xd[0, t] @ W_ih.T + h @ W_hh.T + b)
        return h

    jac = torch.autograd.functional.jacobian(h1_to_hT, hs[1][0])  # (H, H) = dh_T/dh_1
    g_T = 2 * (W_out @ hs[T][0] + b_out - yd[0]) @ W_out
    torch.testing.assert_close(jac.T @ g_T, dh[0, 0])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_gated_cells_match_torch_cells_with_copied_weights(kind):
    model = build_model(kind, H, seed=2)
    x, y = _data()
    prof = gradient_profile(model, x, y)

    cell, head = model[0].cell, model[1]
    ref = (nn.LSTMCell if kind == "lstm" else nn.GRUCell)(2, H).double()
    with torch.no_grad():  # same layout and gate order (i, f, g, o / r, z, n): a plain copy
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ref, name).copy_(getattr(cell, name))
    xd = x.double().requires_grad_(True)
    h = torch.zeros(B, H, dtype=torch.float64)
    c = torch.zeros(B, H, dtype=torch.float64)
    hs, cs = [], []
    for t in range(T):
        if kind == "lstm":
            h, c = ref(xd[:, t], (h, c))
            c.retain_grad()
            cs.append(c)
        else:
            h = ref(xd[:, t], h)
        h.retain_grad()
        hs.append(h)
    loss = ((hs[-1] @ head.weight.double().T + head.bias.double() - y.double()) ** 2).sum()
    loss.backward()
    assert prof.dh == pytest.approx([_mean_norm(h.grad) for h in hs], rel=1e-6)
    assert prof.dx == pytest.approx([_mean_norm(xd.grad[:, t]) for t in range(T)], rel=1e-6)
    if kind == "lstm":
        assert prof.dc == pytest.approx([_mean_norm(c.grad) for c in cs], rel=1e-6)
    else:
        assert prof.dc is None


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru"])
def test_input_gradients_agree_with_the_fused_whole_sequence_layer(kind):
    """dL/dx_t from the step-by-step unroll == x.grad through the layer's own whole-sequence kernel
    (oneDNN for the LSTM; rnnkit's C++ loop for GRU and SimpleRNN on CPU, else ATen's)."""
    model = build_model(kind, H, seed=3)
    x, y = _data()
    prof = gradient_profile(model, x, y, dtype=torch.float32)
    xg = x.clone().requires_grad_(True)
    ((model(xg) - y) ** 2).sum().backward()
    assert model[0].last_kernel.name.startswith(("fused", "fast:cpp"))
    assert prof.dx == pytest.approx(xg.grad.norm(dim=-1).mean(dim=0).tolist(), rel=1e-4, abs=1e-9)


def test_retain_grad_on_return_sequences_sees_only_the_direct_gradient():
    """Why gradient_profile unrolls the cell: the stacked outputs are not what the next step reads."""
    model = build_model("simple", H, seed=4)
    x, y = _data()
    model[0].return_sequences = True
    seq = model[0](x)  # (B, T, H)
    seq.retain_grad()
    ((model[1](seq[:, -1]) - y) ** 2).sum().backward()
    assert float(seq.grad[:, :-1].abs().max()) == 0.0
    assert gradient_profile(model, x, y).dh[0] > 0.0


def test_spectra_per_gate_block():
    simple = recurrent_spectra(build_model("simple", 8)[0])
    assert list(simple) == ["W_hh"]
    # orthogonal W_hh: every eigenvalue and singular value has modulus 1
    assert simple["W_hh"]["spectral_radius"] == pytest.approx(1.0, abs=1e-5)
    assert simple["W_hh"]["spectral_norm"] == pytest.approx(1.0, abs=1e-5)
    assert list(recurrent_spectra(build_model("lstm", 8)[0])) == ["i", "f", "g", "o"]
    assert list(recurrent_spectra(build_model("gru", 8)[0])) == ["r", "z", "n"]
    identity = recurrent_spectra(build_model("simple", 8, recurrent_initializer="identity")[0])
    assert identity["W_hh"]["spectral_radius"] == pytest.approx(1.0)


def test_exploding_gradient_is_capped_by_clipping():
    demo = exploding_demo(20, 8, gain=4.0, clipnorm=1.0, steps=3)
    assert demo.spectral_radius == pytest.approx(4.0, rel=1e-4)
    assert demo.grad_norm_at_init > 100.0
    assert demo.grad_norm_after_clip == pytest.approx(1.0, rel=1e-4)


def test_report_has_ratios_and_trained_phase():
    report = gradient_report(["simple", "lstm"], 8, units=4, batch_size=4, train_steps_=2, explode_gain=None)
    lstm = report["cells"]["lstm"]
    assert set(lstm) >= {"init", "trained", "spectra_init", "spectra_trained", "gate_blocks"}
    assert len(lstm["init"]["dh_norm"]) == 8 and "dc_norm" in lstm["init"]
    assert math.isfinite(report["cells"]["simple"]["init"]["ratio_h1_over_hT"])
