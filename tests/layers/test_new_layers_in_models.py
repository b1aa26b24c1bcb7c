"""The new layers inside models: a Sequential of them trains with fit, saves in rnnkit's format
and loads back predicting identically (configs and every weight, BatchNormalization's moving
statistics included, survive); a functional model joins branches with the merge layers."""

from __future__ import annotations

import numpy as np
import torch

from rnnkit import Input, Model, Sequential, layers
from rnnkit.models import load_model


def test_sequential_of_new_layers_fit_save_load(tmp_path) -> None:
    torch.manual_seed(0)
    model = Sequential(
        [
            Input(shape=(12, 3)),
            layers.Conv1D(8, 3, padding="causal", activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling1D(2),
            layers.SpatialDropout1D(0.1),
            layers.LSTM(6, return_sequences=True),
            layers.LayerNormalization(),
            layers.Permute((2, 1)),
            layers.Flatten(),
            layers.RepeatVector(2),
            layers.Reshape((2, 6, 6)),
            layers.ConvLSTM1D(2, 3, padding="same"),
            layers.GlobalAveragePooling1D(),
            layers.Dense(1),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(16, 12, 3)).astype("float32")
    y = x.mean(axis=(1, 2))[:, None]
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    bn = model.layers[1]
    assert not torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))  # fit updated them
    model.save(tmp_path / "m.safetensors")
    again = load_model(tmp_path / "m.safetensors")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    torch.testing.assert_close(again.layers[1].running_var, bn.running_var)


def test_functional_branches_merge() -> None:
    conv, dense, head = layers.Conv1D(3, 2, padding="same"), layers.Dense(3), layers.Dense(1)
    add, mul, cat, pool = layers.Add(), layers.Multiply(), layers.Concatenate(), layers.GlobalMaxPooling1D()
    a, b = Input(shape=(5, 4)), Input(shape=(5, 2))
    left, right = conv(a), dense(b)
    model = Model([a, b], head(pool(cat([add([left, right]), mul([left, right])]))))
    xa, xb = torch.randn(2, 5, 4), torch.randn(2, 5, 2)
    lv, rv = conv(xa), dense(xb)
    want = head((torch.cat([lv + rv, lv * rv], dim=-1)).amax(dim=1))  # the same layers, by hand
    torch.testing.assert_close(model([xa, xb]), want)


def test_keras_file_of_a_conv_recurrent_model_round_trips(tmp_path) -> None:
    """A Keras 3 functional model of the new layers (the keras.io next-frame example's ConvLSTM2D +
    BatchNormalization stack, then convolution, pooling and merging) loads into rnnkit and predicts
    what Keras predicts; rnnkit saves it back and Keras predicts the same again."""
    import keras

    inp = keras.Input(shape=(None, 6, 6, 1))
    x = keras.layers.ConvLSTM2D(3, 3, padding="same", return_sequences=True, activation="relu")(inp)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ConvLSTM2D(3, 1, padding="same")(x)
    x = keras.layers.MaxPooling2D()(keras.layers.Conv2D(2, 3, padding="same")(x))
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([pooled, keras.layers.Flatten()(x)]))
    kmodel = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    kmodel.set_weights([rng.normal(scale=0.3, size=w.shape).astype("float32") for w in kmodel.get_weights()])
    bn = kmodel.layers[2]
    bn.set_weights([*bn.get_weights()[:3], np.abs(bn.get_weights()[3]) + 0.5])  # a positive variance
    kmodel.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    x = rng.normal(size=(2, 3, 6, 6, 1)).astype("float32")
    want = kmodel.predict(x, verbose=0)
    np.testing.assert_allclose(ours.predict(x, verbose=0), want, atol=1e-5)
    assert [row[1] for row in layers.kernel_report(ours)] == ["fast:batched-input"] * 2
    ours.save(tmp_path / "ours.keras")
    np.testing.assert_allclose(
        keras.saving.load_model(tmp_path / "ours.keras").predict(x, verbose=0), want, atol=1e-5
    )
