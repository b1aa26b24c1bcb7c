"""Pooling layers: parity with Keras 3 (torch backend), forward and backward, masks and configs;
hand-computed golden values where Keras's torch backend departs from its other backends."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import check_layer, keras_drops_mask

from rnnkit import layers
from rnnkit.errors import ConfigError

WINDOWED = [
    ("MaxPooling1D", {}, (2, 7, 3)),
    ("MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": "same"}, (2, 8, 3)),
    ("MaxPooling1D", {"pool_size": 2, "data_format": "channels_first"}, (2, 3, 7)),
    ("AveragePooling1D", {"pool_size": 3, "strides": 1, "padding": "same"}, (2, 7, 3)),  # symmetric pads
    ("AveragePooling1D", {"pool_size": 2}, (2, 7, 3)),
    ("MaxPooling2D", {}, (2, 5, 6, 3)),
    ("MaxPooling2D", {"pool_size": (3, 2), "strides": 2, "padding": "same"}, (2, 5, 6, 3)),
    ("AveragePooling2D", {"pool_size": 3, "strides": 1, "padding": "same"}, (2, 5, 6, 3)),
    ("AveragePooling2D", {"pool_size": (2, 3), "data_format": "channels_first"}, (2, 3, 5, 6)),
]


@pytest.mark.parametrize("cls,kwargs,shape", WINDOWED, ids=lambda v: str(v))
def test_windowed_pooling_matches_keras(cls: str, kwargs: dict, shape: tuple) -> None:
    check_layer(cls, kwargs, input_shape=shape)


def test_windowed_pooling_drops_the_mask() -> None:
    mask = np.array([[1, 1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1]], bool)
    with keras_drops_mask():
        check_layer("MaxPooling1D", {}, input_shape=(2, 7, 3), mask=mask)


def test_average_same_padding_counts_real_elements_only() -> None:
    # Asymmetric "same": in = 4, pool 2, stride 1 -> one zero pad after. The last window holds one
    # real element, so its mean is that element (TensorFlow/JAX Keras; Keras's torch backend
    # repeats the edge instead, giving the same number here, but differs for pool 4 below).
    x = torch.tensor([[[1.0], [2.0], [4.0], [8.0]]])
    y = layers.AveragePooling1D(2, strides=1, padding="same")(x)
    torch.testing.assert_close(y.flatten(), torch.tensor([1.5, 3.0, 6.0, 8.0]))
    # pool 4, stride 1: pads 1 before and 2 after; window 0 = [pad, 1, 2, 4] -> 7/3.
    y = layers.AveragePooling1D(4, strides=1, padding="same")(x)
    torch.testing.assert_close(y.flatten(), torch.tensor([7 / 3, 15 / 4, 14 / 3, 12 / 2]))


GLOBAL = [
    ("GlobalAveragePooling1D", {}, (2, 5, 3)),
    ("GlobalAveragePooling1D", {"keepdims": True, "data_format": "channels_first"}, (2, 3, 5)),
    ("GlobalMaxPooling1D", {"keepdims": True}, (2, 5, 3)),
    ("GlobalAveragePooling2D", {}, (2, 4, 5, 3)),
    ("GlobalAveragePooling2D", {"keepdims": True, "data_format": "channels_first"}, (2, 3, 4, 5)),
    ("GlobalMaxPooling2D", {}, (2, 4, 5, 3)),
    ("GlobalMaxPooling2D", {"keepdims": True}, (2, 4, 5, 3)),
]


@pytest.mark.parametrize("cls,kwargs,shape", GLOBAL, ids=lambda v: str(v))
def test_global_pooling_matches_keras(cls: str, kwargs: dict, shape: tuple) -> None:
    check_layer(cls, kwargs, input_shape=shape)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_global_average_1d_honours_the_mask(data_format: str) -> None:
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    shape = (2, 5, 3) if data_format == "channels_last" else (2, 3, 5)
    check_layer("GlobalAveragePooling1D", {"data_format": data_format}, input_shape=shape, mask=mask)


def test_global_max_1d_skips_masked_steps() -> None:
    # rnnkit departs from Keras here on purpose (Keras's GlobalMaxPooling1D ignores the mask).
    x = torch.tensor([[[1.0], [2.0], [9.0]]])
    y = layers.GlobalMaxPooling1D()(x, mask=torch.tensor([[True, True, False]]))
    assert y.item() == 2.0


def test_pooling_errors() -> None:
    with pytest.raises(ConfigError, match=r"padding='causal' is not valid: expected one of 'valid', 'same'"):
        layers.MaxPooling1D(padding="causal")
    with pytest.raises(ConfigError, match=r"keepdims=1 is not valid"):
        layers.GlobalAveragePooling2D(keepdims=1)
    with pytest.raises(ConfigError, match=r"data_format='nhwc' is not valid"):
        layers.MaxPooling2D(data_format="nhwc")
