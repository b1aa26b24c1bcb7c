"""Mixed precision (torch.autocast on CPU, bf16): every recurrent layer trains under it.

The C++ loop has float32/float64 kernels only; under autocast its input projections arrive in
bf16, so it must step aside (a GRU under bf16 crashed with "not implemented for 'BFloat16'").
"""

from __future__ import annotations

import pytest
import torch

from rnnkit import layers


@pytest.mark.parametrize("make", [layers.SimpleRNN, layers.GRU, layers.LSTM, layers.MinGRU, layers.MinLSTM])
@pytest.mark.parametrize("padding", ["none", "right", "holes"])
def test_recurrent_layers_train_under_bf16_autocast(make, padding):
    torch.manual_seed(0)
    emb = layers.Embedding(20, 6, mask_zero=padding != "none")
    rnn = make(8, return_sequences=True)
    ids = torch.randint(1, 20, (3, 7))
    if padding == "right":
        ids[0, 4:] = 0
    elif padding == "holes":
        ids[1, 2] = 0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = rnn(emb(ids))
        loss = out.float().square().mean()
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in rnn.parameters())
    assert rnn.last_kernel.name not in ("fast:cpp", "linear-scan:cpp")
