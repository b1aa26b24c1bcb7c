"""Real Keras files: Keras 3 writes, rnnkit reads and predicts the same; rnnkit writes, Keras reads.

Keras (torch backend) is the test dependency that makes the files; rnnkit reads them with
zipfile + h5py only. Every comparison is within 1e-5 (float32).
"""

from __future__ import annotations

import json
import zipfile

import keras
import numpy as np
import pytest

from rnnkit import layers
from rnnkit.errors import CheckpointError, ConfigError
from rnnkit.models import Functional, Sequential, keras_format, load_model

ATOL = 1e-5


def _randomize(model: keras.Model, seed: int = 0) -> None:
    """Non-zero biases everywhere, so a dropped or misplaced bias shows."""
    rng = np.random.RandomState(seed)
    model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in model.get_weights()])


def _padded_ids(seed: int = 0) -> np.ndarray:
    x = np.random.RandomState(seed).randint(1, 20, (4, 7))
    x[0, 4:] = 0  # right padding
    x[1, 6:] = 0
    return x


def _keras_sequential() -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(20, 4, mask_zero=True),
            keras.layers.Bidirectional(keras.layers.GRU(3, return_sequences=True)),
            keras.layers.TimeDistributed(keras.layers.Dense(5, activation="tanh")),
            keras.layers.Dropout(0.3),
            keras.layers.LSTM(4, return_sequences=True),
            keras.layers.SimpleRNN(3),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    _randomize(model)
    return model


def _keras_functional() -> keras.Model:
    enc_in = keras.Input(shape=(None, 3), name="enc")
    _, h, c = keras.layers.LSTM(5, return_state=True)(enc_in)
    dec_in = keras.Input(shape=(None, 4), name="dec")
    seq = keras.layers.LSTM(5, return_sequences=True)(dec_in, initial_state=[h, c])
    shared = keras.layers.Dense(2)
    model = keras.Model([enc_in, dec_in], [shared(seq), shared(h)])
    _randomize(model, 1)
    return model


def _functional_inputs() -> list[np.ndarray]:
    rng = np.random.RandomState(3)
    return [rng.randn(3, 6, 3).astype("float32"), rng.randn(3, 4, 4).astype("float32")]


def test_keras_sequential_file_predicts_what_keras_predicts(tmp_path):
    kmodel = _keras_sequential()
    kmodel.save(tmp_path / "k.keras")
    model = load_model(tmp_path / "k.keras")
    assert isinstance(model, Sequential)
    assert [type(x).__name__ for x in model.layers] == [type(x).__name__ for x in kmodel.layers]
    x = _padded_ids()
    np.testing.assert_allclose(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), atol=ATOL)


def test_keras_functional_file_predicts_what_keras_predicts(tmp_path):
    kmodel = _keras_functional()
    kmodel.save(tmp_path / "f.keras")
    model = load_model(tmp_path / "f.keras")
    assert isinstance(model, Functional) and model.input_names == ["enc", "dec"]
    x = _functional_inputs()
    for ours, theirs in zip(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=ATOL)


def test_legacy_h5_file_is_read(tmp_path):
    kmodel = _keras_sequential()
    kmodel.save(tmp_path / "k.h5")  # Keras 3 writes the Keras 2 HDF5 layout for .h5
    model = load_model(tmp_path / "k.h5")
    x = _padded_ids(1)
    np.testing.assert_allclose(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), atol=ATOL)


@pytest.mark.parametrize("make", [_keras_sequential, _keras_functional])
def test_rnnkit_writes_keras_files_keras_opens(tmp_path, make):
    kmodel = make()
    kmodel.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    ours.save(tmp_path / "ours.keras")
    back = keras.saving.load_model(tmp_path / "ours.keras")
    x = _padded_ids() if make is _keras_sequential else _functional_inputs()
    expected = ours.predict(x, verbose=0)
    got = back.predict(x, verbose=0)
    expected, got = (list(v) if isinstance(v, list) else [v] for v in (expected, got))
    for ours_out, keras_out in zip(expected, got, strict=True):
        np.testing.assert_allclose(keras_out, ours_out, atol=ATOL)


def test_a_model_built_in_rnnkit_opens_in_keras(tmp_path):
    model = Sequential([layers.Input(shape=(6, 3)), layers.GRU(4, reset_after=False), layers.Dense(1)])
    model.save(tmp_path / "r.keras")
    with zipfile.ZipFile(tmp_path / "r.keras") as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        assert json.loads(z.read("config.json"))["class_name"] == "Sequential"
    x = np.random.RandomState(0).randn(2, 6, 3).astype("float32")
    np.testing.assert_allclose(
        keras.saving.load_model(tmp_path / "r.keras").predict(x, verbose=0),
        model.predict(x, verbose=0),
        atol=ATOL,
    )


def test_weights_h5_both_ways(tmp_path):
    kmodel = _keras_sequential()
    kmodel.save(tmp_path / "k.keras")
    ours = load_model(tmp_path / "k.keras")
    kmodel.save_weights(tmp_path / "k.weights.h5")
    _randomize(kmodel, 7)  # Keras now holds other weights ...
    ours.save_weights(tmp_path / "ours.weights.h5")
    kmodel.load_weights(tmp_path / "ours.weights.h5")  # ... until it reads rnnkit's file
    x = _padded_ids(2)
    np.testing.assert_allclose(kmodel.predict(x, verbose=0), ours.predict(x, verbose=0), atol=ATOL)
    fresh = load_model(tmp_path / "k.keras")
    fresh.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), ours.predict(x, verbose=0), atol=ATOL)


def test_unhonourable_names_and_features_are_errors(tmp_path):
    model = Sequential([layers.Input(shape=(4, 2)), layers.LSTM(3, layer_norm=True)])
    with pytest.raises(
        ConfigError, match=r"layer_norm of layer .* in a \.keras file \(Keras has no layer_norm\)"
    ):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()
    with pytest.raises(ConfigError, match=r"rnnkit reads Keras \.h5 files but writes Keras 3's \.keras"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ConfigError, match=r"use model.export\(path\) for ONNX"):
        model.save(tmp_path / "m.onnx")
    with pytest.raises(ConfigError, match=r"use save_weights\(\)"):
        model.save(tmp_path / "m.weights.h5")
    (tmp_path / "folder").mkdir()
    with pytest.raises(CheckpointError, match=r"it is a directory"):
        model.save(tmp_path / "folder")
    model.save(tmp_path / "m.safetensors")  # rnnkit's own format keeps every feature
    assert load_model(tmp_path / "m.safetensors").layers[0].layer_norm


def test_a_keras_layer_rnnkit_lacks_is_named(tmp_path):
    kmodel = keras.Sequential([keras.Input(shape=(4, 4, 4, 1)), keras.layers.Conv3D(2, 2)])
    kmodel.save(tmp_path / "c.keras")
    with pytest.raises(ConfigError, match=r"Keras layer='Conv3D' is not valid: expected one of"):
        load_model(tmp_path / "c.keras")


NEW_LAYERS = [
    ("Conv1D", lambda k: [k.layers.Conv1D(4, 3, padding="same"), k.layers.MaxPooling1D(2), k.layers.LSTM(3)]),
    (
        "RepeatVector",
        lambda k: [k.layers.LSTM(3), k.layers.RepeatVector(2), k.layers.GRU(2, return_sequences=True)],
    ),
    (
        "LayerNormalization",
        lambda k: [
            k.layers.LSTM(4, return_sequences=True),
            k.layers.LayerNormalization(),
            k.layers.GlobalAveragePooling1D(),
        ],
    ),
    ("BatchNormalization", lambda k: [k.layers.SimpleRNN(4), k.layers.BatchNormalization()]),
    ("Flatten", lambda k: [k.layers.GRU(3, return_sequences=True), k.layers.Flatten(), k.layers.Dense(2)]),
]


@pytest.mark.parametrize(("name", "stack"), NEW_LAYERS, ids=[n for n, _ in NEW_LAYERS])
def test_other_keras_layers_through_the_table(tmp_path, name, stack):
    assert hasattr(layers, name), f"rnnkit.layers.{name}: the table reads Keras files that use it"
    kmodel = keras.Sequential([keras.Input(shape=(8, 3)), *stack(keras)])
    _randomize(kmodel, 4)
    if name == "BatchNormalization":  # moving variance must stay positive
        w = kmodel.get_weights()
        w[-1] = np.abs(w[-1]) + 0.5
        kmodel.set_weights(w)
    kmodel.save(tmp_path / "k.keras")
    model = load_model(tmp_path / "k.keras")
    x = np.random.RandomState(5).randn(3, 8, 3).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), atol=ATOL)
    model.save(tmp_path / "ours.keras")
    back = keras.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), kmodel.predict(x, verbose=0), atol=ATOL)


def test_the_table_names_groups_as_keras_does():
    assert [keras_format._snake(n) for n in ("LSTM", "SimpleRNN", "Conv1D", "ConvLSTM2D", "InputLayer")] == [
        "lstm",
        "simple_rnn",
        "conv1d",
        "conv_lstm2d",
        "input_layer",
    ]


def test_conv_lstm_through_the_table(tmp_path):
    kmodel = keras.Sequential(
        [
            keras.Input(shape=(5, 6, 2)),
            keras.layers.ConvLSTM1D(3, 2),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )
    _randomize(kmodel, 6)
    kmodel.save(tmp_path / "c.keras")
    model = load_model(tmp_path / "c.keras")
    x = np.random.RandomState(6).randn(2, 5, 6, 2).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), atol=ATOL)
    model.save(tmp_path / "ours.keras")
    back = keras.saving.load_model(tmp_path / "ours.keras")
    np.testing.assert_allclose(back.predict(x, verbose=0), kmodel.predict(x, verbose=0), atol=ATOL)
