"""MinGRU/MinLSTM take their kernel from kernels.choose_kernel: force() and use_fused reach them."""

from __future__ import annotations

import os

import pytest
import torch
from tests.helpers import assert_close_all, grads_of

from rnnkit import kernels, layers
from rnnkit.errors import ConfigError
from rnnkit.kernels import native
from rnnkit.layers.base import deserialize_layer, serialize_layer

B, T, D, H = 2, 7, 3, 4
FAST = "linear-scan:python" if os.environ.get("RNNKIT_NATIVE") == "0" else "linear-scan:cpp"


@pytest.mark.parametrize("cls", [layers.MinGRU, layers.MinLSTM])
def test_forced_kernels_reach_the_min_rnns_and_agree(cls):
    layer = cls(H, return_sequences=True, return_state=True)
    layer.build((None, T, D))
    x = torch.randn(B, T, D, requires_grad=True)
    mask = torch.tensor([[1, 1, 0, 1, 1, 1, 0], [0, 1, 1, 1, 1, 0, 0]]).bool()
    leaves = [x, *layer.parameters()]
    got = {}
    for forced, name in (("reference", "sequential"), ("fast", FAST), ("fused", "parallel-scan")):
        with kernels.force(forced):
            got[forced] = grads_of(lambda: layer(x, mask=mask), leaves)
        assert layer.last_kernel.name == name and layer.last_kernel.reason == "forced"
    for forced in ("fast", "fused"):
        assert_close_all(got[forced][0], got["reference"][0], atol=2e-5)
        assert_close_all(got[forced][1], got["reference"][1], atol=2e-5)


@pytest.mark.parametrize(
    ("use_fused", "name", "reason"),
    [
        ("auto", FAST, "CPU: the recurrence in time order"),
        (True, "parallel-scan", "use_fused=True"),
        (False, FAST, "use_fused=False"),
    ],
)
def test_use_fused_picks_the_min_kernel(use_fused, name, reason):
    layer = layers.MinGRU(H, use_fused=use_fused)
    layer(torch.randn(B, T, D))
    assert layer.last_kernel.name == name
    assert layer.last_kernel.reason.startswith(reason)
    assert layers.kernel_report(layer) == [(layer.name, name, layer.last_kernel.reason)]
    twin = deserialize_layer(serialize_layer(layer))
    assert twin.use_fused == use_fused and twin.get_config()["mode"] == "auto"


def test_the_fast_family_says_why_the_cpp_pass_is_off():
    layer = layers.MinLSTM(H)
    with native.use_native(False):
        layer(torch.randn(B, T, D))
    assert layer.last_kernel.name == "linear-scan:python"
    assert layer.last_kernel.reason.endswith("C++ pass: the C++ kernel is off or not built")


def test_modes_still_pick_their_kernel_and_refuse_a_second_choice():
    par, seq = layers.MinGRU(H, mode="parallel"), layers.MinGRU(H, mode="sequential")
    x = torch.randn(B, T, D)
    par(x), seq(x)
    assert (par.last_kernel.name, seq.last_kernel.name) == ("parallel-scan", "sequential")
    assert deserialize_layer(serialize_layer(par)).get_config()["use_fused"] == "auto"
    with pytest.raises(ConfigError) as err:
        layers.MinGRU(H, mode="parallel", use_fused=False)
    assert str(err.value) == (
        "use_fused=False is not valid: expected 'auto' with mode='parallel' (mode already picks the kernel)."
    )
