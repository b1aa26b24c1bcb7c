"""Bad input raises an rnnkit error naming the argument, the value and what is allowed."""

from __future__ import annotations

import re

import pytest
import torch

from rnnkit import ConfigError, KernelError, RnnkitError, ShapeError, layers


def raises(exc: type[Exception], message: str):
    return pytest.raises(exc, match="^" + re.escape(message) + "$")


def test_wrong_rank() -> None:
    lstm = layers.LSTM(4, name="enc")
    with raises(
        ShapeError,
        "enc: input_shape=(2, 5) is not valid: expected 3 dimensions (batch, timesteps, features).",
    ):
        lstm(torch.randn(2, 5))


def test_feature_size_differs_from_built() -> None:
    gru = layers.GRU(4, name="g")
    gru(torch.randn(2, 5, 3))
    with raises(
        ShapeError,
        "g: inputs.shape[-1]=7 is not valid: expected 3 (the layer was built for inputs of shape (2, 5, 3)).",
    ):
        gru(torch.randn(2, 5, 7))


def test_mask_of_the_wrong_shape() -> None:
    rnn = layers.SimpleRNN(4, name="r")
    with raises(ShapeError, "r: mask.shape=(2, 4) is not valid: expected (batch, timesteps) = (2, 5)."):
        rnn(torch.randn(2, 5, 3), mask=torch.ones(2, 4, dtype=torch.bool))


def test_unknown_merge_mode() -> None:
    with raises(
        ConfigError, "merge_mode='max' is not valid: expected one of 'concat', 'sum', 'mul', 'ave', None."
    ):
        layers.Bidirectional(layers.LSTM(4), merge_mode="max")


def test_unknown_activation() -> None:
    with pytest.raises(
        ConfigError, match=r"^activation='tanhh' is not valid: expected one of 'elu', 'exponential'"
    ):
        layers.LSTM(4, activation="tanhh")
    with pytest.raises(ConfigError, match=r"^recurrent_activation='sigmod' is not valid"):
        layers.GRU(4, recurrent_activation="sigmod")


def test_stateful_with_another_batch_size() -> None:
    lstm = layers.LSTM(4, stateful=True, name="s")
    lstm(torch.randn(2, 5, 3))
    with raises(
        ShapeError,
        "s: inputs batch size 3 is not valid for a stateful layer: expected 2, the batch size of its carried "
        "state (call reset_states(batch_size=None) to start over with another batch size).",
    ):
        lstm(torch.randn(3, 5, 3))
    lstm.reset_states(batch_size=None)
    assert lstm(torch.randn(3, 5, 3)).shape == (3, 4)


def test_bad_arguments() -> None:
    with raises(ConfigError, "units=0 is not valid: expected a positive integer."):
        layers.LSTM(0)
    with raises(ConfigError, "dropout=1.5 is not valid: expected a float in [0, 1)."):
        layers.GRU(3, dropout=1.5)
    with raises(ConfigError, "use_fused='yes' is not valid: expected one of 'auto', True, False."):
        layers.SimpleRNN(3, use_fused="yes")
    with raises(ConfigError, "layer_norm=True is not valid: expected False when reset_after=False."):
        layers.GRU(3, layer_norm=True, reset_after=False)
    with raises(
        ConfigError, "layer='Dense' is not valid: expected an rnnkit RNN layer (SimpleRNN, LSTM, GRU, RNN)."
    ):
        layers.Bidirectional(layers.Dense(3))
    with raises(
        ConfigError,
        "cell='int' is not valid: expected a cell with a `call` method and a `state_size` attribute.",
    ):
        layers.RNN(3)


def test_initial_state_checks() -> None:
    lstm = layers.LSTM(4, name="l")
    x = torch.randn(2, 5, 3)
    with raises(ShapeError, "l: initial_state has 1 tensors: expected 2 (state sizes [4, 4])."):
        lstm(x, initial_state=[torch.zeros(2, 4)])
    with raises(ShapeError, "l: initial_state[1].shape=(2, 3) is not valid: expected (2, 4)."):
        lstm(x, initial_state=[torch.zeros(2, 4), torch.zeros(2, 3)])


def test_use_fused_true_names_the_blocker() -> None:
    lstm = layers.LSTM(4, layer_norm=True, use_fused=True)
    with raises(
        KernelError,
        "use_fused=True cannot run this layer: layer_norm=True. Pass use_fused='auto' to fall back to the "
        "reference kernel.",
    ):
        lstm(torch.randn(2, 5, 3))


def test_every_error_is_an_rnnkit_error_and_a_builtin() -> None:
    with pytest.raises(RnnkitError):
        layers.LSTM(-1)
    with pytest.raises(ValueError):
        layers.LSTM(-1)
