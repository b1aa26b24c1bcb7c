"""Lambda and SpatialDropout1D/2D: Keras parity where it is deterministic, the dropout's
statistics (whole channels dropped, kept ones scaled) where it is not, Keras-format configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import check_layer

from rnnkit import layers
from rnnkit.errors import ConfigError


def double(x):  # a named function: saved by name, resolved through custom_objects
    return x * 2


def test_lambda_matches_keras_and_round_trips_by_name() -> None:
    import keras

    ours = layers.Lambda(double)
    x = torch.randn(2, 3)
    torch.testing.assert_close(ours(x), torch.as_tensor(keras.layers.Lambda(double)(x)))
    assert ours.get_config()["function"] == keras.layers.Lambda(double).get_config()["function"]
    again = layers.Lambda.from_config(ours.get_config(), custom_objects={"double": double})
    torch.testing.assert_close(again(x), x * 2)
    with pytest.raises(ConfigError, match=r"function='double' is not valid: expected a function passed in"):
        layers.Lambda.from_config(ours.get_config())


def test_lambda_python_lambda_needs_safe_mode_off() -> None:
    import keras

    cfg = keras.layers.Lambda(lambda x, k=3: x * k + 1).get_config()  # Keras's own __lambda__ format
    with pytest.raises(ConfigError, match="Python lambda"):
        layers.Lambda.from_config(cfg)
    ours = layers.Lambda.from_config(cfg, safe_mode=False)
    torch.testing.assert_close(ours(torch.ones(2)), torch.full((2,), 4.0))
    torch.testing.assert_close(
        layers.Lambda.from_config(ours.get_config(), safe_mode=False)(torch.ones(1)), torch.full((1,), 4.0)
    )


def test_lambda_arguments_mask_and_training() -> None:
    lam = layers.Lambda(
        lambda x, mask=None, scale=1.0: x * scale, mask=lambda x, m: m, arguments={"scale": 3.0}
    )
    x = torch.ones(1, 2, 1)
    y = lam(x, mask=torch.tensor([[True, False]]))
    assert y.sum().item() == 6.0 and y._keras_mask.tolist() == [[True, False]]
    assert (
        getattr(layers.Lambda(lambda x: x)(x, mask=torch.tensor([[True, True]])), "_keras_mask", None) is None
    )


def test_spatial_dropout_inference_matches_keras() -> None:
    check_layer("SpatialDropout1D", {"rate": 0.3}, input_shape=(2, 5, 4))
    check_layer("SpatialDropout2D", {"rate": 0.3, "data_format": "channels_first"}, input_shape=(2, 3, 4, 4))


def test_spatial_dropout_keeps_the_mask_as_keras() -> None:
    check_layer(
        "SpatialDropout1D", {"rate": 0.3}, input_shape=(2, 3, 4), mask=np.array([[1, 1, 0], [1, 0, 0]], bool)
    )


def test_spatial_dropout_drops_whole_channels() -> None:
    drop = layers.SpatialDropout1D(0.5, seed=1)
    x = torch.ones(64, 7, 16)
    y = drop(x, training=True)
    per_channel = y[:, 0, :]  # (B, C): every step of a channel shares its draw
    assert torch.equal(y, per_channel.unsqueeze(1).expand_as(y))
    assert set(per_channel.unique().tolist()) == {0.0, 2.0}  # kept ones scaled by 1 / (1 - rate)
    assert 0.4 < (per_channel == 0).float().mean().item() < 0.6
    torch.testing.assert_close(layers.SpatialDropout1D(0.5, seed=1)(x, training=True), y)  # seeded
    img = layers.SpatialDropout2D(0.5, seed=0)(torch.ones(8, 5, 5, 6), training=True)
    assert torch.equal(img, img[:, :1, :1, :].expand_as(img))


def test_spatial_dropout_config_is_keras() -> None:
    cfg = layers.SpatialDropout1D(0.2, seed=3).get_config()
    assert {k: cfg[k] for k in ("rate", "seed")} == {"rate": 0.2, "seed": 3} and "noise_shape" not in cfg
