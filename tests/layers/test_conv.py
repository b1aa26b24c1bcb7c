"""Conv1D / Conv2D: parity with Keras 3 (torch backend) by copied weights, forward and backward,
over padding, strides, dilation, groups and both data formats; torch.nn.Conv as a second oracle."""

from __future__ import annotations

import pytest
import torch
from tests.helpers import check_layer

from rnnkit import layers
from rnnkit.errors import ConfigError, ShapeError

CONV1D = [
    {"filters": 4, "kernel_size": 3},
    {"filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"},
    {"filters": 4, "kernel_size": 4, "padding": "same", "strides": 2},  # asymmetric "same"
    {"filters": 4, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
    {"filters": 4, "kernel_size": 2, "groups": 2, "use_bias": False},
    {"filters": 4, "kernel_size": 3, "data_format": "channels_first", "padding": "same"},
]


@pytest.mark.parametrize("kwargs", CONV1D, ids=lambda k: "-".join(f"{a}={b}" for a, b in k.items()))
def test_conv1d_matches_keras(kwargs: dict) -> None:
    shape = (2, 4, 9) if kwargs.get("data_format") == "channels_first" else (2, 9, 4)
    check_layer("Conv1D", kwargs, input_shape=shape)


CONV2D = [
    {"filters": 3, "kernel_size": (2, 3)},
    {"filters": 3, "kernel_size": 3, "padding": "same", "strides": (2, 1)},
    {"filters": 4, "kernel_size": 2, "padding": "same", "dilation_rate": 2, "groups": 2},
    {"filters": 3, "kernel_size": 3, "data_format": "channels_first", "strides": 2, "activation": "tanh"},
]


@pytest.mark.parametrize("kwargs", CONV2D, ids=lambda k: "-".join(f"{a}={b}" for a, b in k.items()))
def test_conv2d_matches_keras(kwargs: dict) -> None:
    shape = (2, 2, 6, 5) if kwargs.get("data_format") == "channels_first" else (2, 6, 5, 2)
    check_layer("Conv2D", kwargs, input_shape=shape)


def test_torch_layout_equals_nn_conv() -> None:
    conv = layers.Conv2D(5, 3, padding="same", data_format="channels_first", input_shape=(2, 7, 7))
    ref = torch.nn.Conv2d(2, 5, 3, padding="same")
    with torch.no_grad():
        ref.weight.copy_(conv.weight)
        ref.bias.copy_(conv.bias)
    x = torch.randn(3, 2, 7, 7)
    torch.testing.assert_close(conv(x), ref(x))


def test_causal_conv_does_not_see_the_future() -> None:
    conv = layers.Conv1D(2, 3, padding="causal", dilation_rate=2)
    x = torch.randn(1, 10, 3)
    y = conv(x)
    x2 = x.clone()
    x2[:, 6:] += 1.0  # change steps 6.. only
    torch.testing.assert_close(conv(x2)[:, :6], y[:, :6])


def test_errors_name_the_argument() -> None:
    with pytest.raises(ConfigError, match=r"padding='causal' is not valid"):
        layers.Conv2D(2, 3, padding="causal")
    with pytest.raises(ConfigError, match=r"groups=3 is not valid: expected a divisor of filters=4"):
        layers.Conv1D(4, 3, groups=3)
    with pytest.raises(ConfigError, match=r"dilation_rate=2 is not valid"):
        layers.Conv1D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ConfigError, match=r"kernel_size=\(3, 0\) is not valid"):
        layers.Conv2D(4, (3, 0))
    conv = layers.Conv1D(2, 3)
    conv(torch.randn(1, 5, 3))
    with pytest.raises(ShapeError, match="the input has 4 channels: expected 3"):
        conv(torch.randn(1, 5, 4))
