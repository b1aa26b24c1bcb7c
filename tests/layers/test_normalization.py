"""BatchNormalization and LayerNormalization: parity with Keras 3 (torch backend) by copied weights,
inference and training mode (the moving statistics after a training call), masks, backward."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from tests.helpers import check_layer

from rnnkit import layers
from rnnkit.errors import ConfigError


def _bn_weights(klayer: Any) -> list[np.ndarray]:
    """Random gamma/beta/moving_mean and a positive moving_variance."""
    rng = np.random.default_rng(3)
    out = []
    for v in klayer.weights:
        w = rng.normal(scale=0.5, size=v.shape).astype("float32")
        out.append(np.abs(w) + 0.5 if "variance" in v.path else w)
    return out


BN = [
    ({}, (4, 5, 3)),
    ({"axis": 1, "center": False}, (4, 3, 5, 2)),  # channels_first images
    ({"scale": False, "momentum": 0.9, "epsilon": 1e-5}, (6, 3)),
]


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("kwargs,shape", BN, ids=lambda v: str(v))
def test_batch_norm_matches_keras(kwargs: dict, shape: tuple, training: bool) -> None:
    ours, klayer = check_layer(
        "BatchNormalization", kwargs, input_shape=shape, training=training, randomize=_bn_weights
    )
    # Moving statistics after the call: updated in training, untouched in inference.
    np.testing.assert_allclose(ours.running_mean.detach().numpy(), klayer.moving_mean.numpy(), atol=1e-6)
    np.testing.assert_allclose(ours.running_var.detach().numpy(), klayer.moving_variance.numpy(), atol=1e-6)


def test_batch_norm_masked_training_matches_keras() -> None:
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], bool)
    ours, klayer = check_layer(
        "BatchNormalization", {}, input_shape=(3, 5, 4), mask=mask, training=True, randomize=_bn_weights
    )
    np.testing.assert_allclose(ours.running_var.detach().numpy(), klayer.moving_variance.numpy(), atol=1e-6)


def test_batch_norm_frozen_runs_in_inference_mode() -> None:
    bn = layers.BatchNormalization(input_shape=(3,))
    bn.trainable = False
    x = torch.randn(8, 3) * 3 + 2
    y = bn(x, training=True)
    torch.testing.assert_close(y, x / torch.sqrt(torch.tensor(1.0 + 1e-3)))  # moving stats 0 / 1
    assert torch.equal(bn.running_mean, torch.zeros(3))
    assert not any(p.requires_grad for p in bn.parameters())
    bn.trainable = True  # the moving statistics stay frozen: only gamma and beta train
    assert [n for n, p in bn.named_parameters() if p.requires_grad] == ["weight", "bias"]
    assert bn.count_params() == 12  # Keras counts the moving statistics too


def test_batch_norm_equals_torch_with_keras_conventions() -> None:
    """torch.nn.BatchNorm1d with Keras's momentum/epsilon mapping: same output, same running mean."""
    bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, input_shape=(4,))
    ref = torch.nn.BatchNorm1d(4, momentum=0.1, eps=1e-5)
    x = torch.randn(16, 4)
    torch.testing.assert_close(bn(x, training=True), ref.train()(x))
    torch.testing.assert_close(bn.running_mean, ref.running_mean)


LN = [
    ({}, (2, 3, 4)),
    ({"axis": [1, 2], "epsilon": 1e-5}, (2, 3, 4)),
]


@pytest.mark.parametrize("kwargs,shape", LN, ids=lambda v: str(v))
def test_layer_norm_matches_keras(kwargs: dict, shape: tuple) -> None:
    check_layer("LayerNormalization", kwargs, input_shape=shape)


def test_layer_norm_over_a_middle_axis() -> None:
    # Keras's torch backend fails on a single non-last axis (it hands F.layer_norm the wrong
    # shape), so the reference here is the formula, in float64.
    ln = layers.LayerNormalization(axis=1, center=False, input_shape=(3, 4))
    with torch.no_grad():
        ln.weight.copy_(torch.tensor([0.5, 1.0, 2.0]))
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    mean, var = x.mean(1, keepdim=True), x.var(1, keepdim=True, unbiased=False)
    want = (x - mean) / torch.sqrt(var + 1e-3) * torch.tensor([0.5, 1.0, 2.0]).view(1, 3, 1)
    torch.testing.assert_close(ln(x.float()).double(), want, atol=1e-5, rtol=1e-5)


def test_layer_norm_keeps_the_mask() -> None:
    mask = np.array([[1, 1, 0], [1, 1, 1]], bool)
    check_layer("LayerNormalization", {}, input_shape=(2, 3, 4), mask=mask)


def test_half_precision_inputs_are_normalized_in_float32() -> None:
    bn = layers.BatchNormalization(input_shape=(4,))
    ln = layers.LayerNormalization(input_shape=(4,))
    x = (torch.randn(64, 4) * 10 + 1000).bfloat16()  # a large mean: bfloat16 moments would lose it
    for layer in (bn, ln):
        want = layer(x.float(), training=True)  # the same (rounded) values in float32
        got = layer(x, training=True)
        assert got.dtype == torch.bfloat16
        torch.testing.assert_close(got.float(), want, atol=0.02, rtol=0.01)  # only the output's rounding


def test_keras2_list_axis_is_accepted() -> None:
    assert layers.BatchNormalization(axis=[3]).get_config()["axis"] == 3


def test_errors() -> None:
    with pytest.raises(ConfigError, match=r"momentum=1.5 is not valid: expected a number in \[0.0, 1.0\]"):
        layers.BatchNormalization(momentum=1.5)
    with pytest.raises(ConfigError, match=r"renorm=True is not valid"):
        layers.BatchNormalization(renorm=True)
    with pytest.raises(ConfigError, match=r"axis=\[1, 2\] is not valid: expected an int"):
        layers.BatchNormalization(axis=[1, 2])
    with pytest.raises(ConfigError, match=r"axis='x' is not valid"):
        layers.LayerNormalization(axis="x")
