"""The functional API: Input -> layer calls -> Model(inputs, outputs), as in Keras."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit import layers
from rnnkit.errors import ConfigError
from rnnkit.models import Functional, Model, Sequential, load_model, model_from_json


def test_the_issue_example_builds_and_matches_the_layer():
    x = rnnkit.Input(shape=(10, 3))
    lstm = layers.LSTM(8)
    y = lstm(x)
    assert y.shape == (None, 8) and y.dtype == "float32"
    model = Model(x, y)
    assert isinstance(model, Functional) and model.count_params() == lstm.count_params() == 4 * 8 * (
        3 + 8 + 2
    )
    data = torch.randn(5, 10, 3)
    torch.testing.assert_close(model(data), lstm(data), rtol=0, atol=0)
    np.testing.assert_allclose(model.predict(data.numpy(), verbose=0), lstm(data).detach().numpy(), atol=1e-6)


def test_symbolic_shapes_keep_unknown_axes_unknown():
    ids = rnnkit.Input(shape=(None,), dtype="int32")
    h = layers.Embedding(30, 4, mask_zero=True)(ids)
    seq, state_h, state_c = layers.LSTM(6, return_sequences=True, return_state=True)(h)
    assert (h.shape, seq.shape, state_h.shape, state_c.shape) == (
        (None, None, 4),
        (None, None, 6),
        (None, 6),
        (None, 6),
    )
    fixed = rnnkit.Input(shape=(7, 2), batch_size=3)
    assert layers.Dense(5)(fixed).shape == (3, 7, 5)


def _seq2seq(units: int = 6) -> tuple[Model, layers.Layer, layers.Layer, layers.Layer]:
    """The character-level seq2seq shape: encoder states start the decoder."""
    enc_in = rnnkit.Input(shape=(None, 5))
    encoder = layers.LSTM(units, return_state=True)
    _, h, c = encoder(enc_in)
    dec_in = rnnkit.Input(shape=(None, 7))
    decoder = layers.LSTM(units, return_sequences=True, return_state=True)
    seq, _, _ = decoder(dec_in, initial_state=[h, c])
    head = layers.Dense(7, activation="softmax")
    return Model([enc_in, dec_in], head(seq)), encoder, decoder, head


def test_initial_state_from_another_layer_matches_eager_calls():
    model, encoder, decoder, head = _seq2seq()
    a, b = torch.randn(2, 4, 5), torch.randn(2, 3, 7)
    _, h, c = encoder(a)
    expected = head(decoder(b, initial_state=[h, c])[0])
    torch.testing.assert_close(model([a, b]), expected, rtol=0, atol=0)
    torch.testing.assert_close(model(a, b), expected, rtol=0, atol=0)
    assert model.predict([a.numpy(), b.numpy()], verbose=0).shape == (2, 3, 7)


def test_shared_layer_has_one_set_of_weights_and_two_nodes():
    a, b = rnnkit.Input(shape=(3,)), rnnkit.Input(shape=(3,))
    shared = layers.Dense(2)
    model = Model(inputs=[a, b], outputs=[shared(a), shared(b)])
    assert model.count_params() == 8 and len(shared._inbound_nodes) == 2
    xa, xb = torch.randn(4, 3), torch.randn(4, 3)
    ya, yb = model([xa, xb])
    torch.testing.assert_close(ya, shared(xa))
    torch.testing.assert_close(yb, shared(xb))
    again = Functional.from_config(model.get_config())
    assert again.count_params() == 8


def test_masks_travel_from_embedding_to_lstm_as_in_sequential():
    ids = rnnkit.Input(shape=(None,), dtype="int64")
    emb, lstm = layers.Embedding(20, 4, mask_zero=True), layers.LSTM(5)
    model = Model(ids, lstm(emb(ids)))
    x = torch.tensor([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    out = model(x)
    # The padded row's last state is the state after its true last token.
    torch.testing.assert_close(out[0], lstm(emb(x[:1, :3]))[0], rtol=1e-6, atol=1e-6)
    assert not torch.allclose(out[0], layers.LSTM(5)(emb(x[:1]).detach())[0])


def test_dict_inputs_and_outputs_fit_and_evaluate():
    torch.manual_seed(0)
    a = rnnkit.Input(shape=(6, 2), name="series")
    b = rnnkit.Input(shape=(3,), name="extra")
    h = layers.GRU(8)(a)
    merged = layers.Dense(8, activation="tanh")(h)
    out_reg = layers.Dense(1, name="reg")(merged)
    out_cls = layers.Dense(2, activation="softmax", name="cls")(layers.Dense(4)(b))
    model = Model({"series": a, "extra": b}, {"reg": out_reg, "cls": out_cls})
    rng = np.random.RandomState(0)
    xs, xe = rng.randn(64, 6, 2).astype("float32"), rng.randn(64, 3).astype("float32")
    y_reg, y_cls = xs.sum(axis=(1, 2))[:, None] / 4, (xe[:, 0] > 0).astype("int64")
    model.compile(
        optimizer="adam",
        loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
    )
    x, y = {"series": xs, "extra": xe}, {"reg": y_reg, "cls": y_cls}
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0, return_dict=True)
    assert after["loss"] < 0.7 * before["loss"]
    pred = model.predict(x, verbose=0)
    assert set(pred) == {"reg", "cls"} and pred["cls"].shape == (64, 2)


def test_config_json_and_file_round_trips_predict_the_same(tmp_path):
    model, *_ = _seq2seq()
    a, b = np.random.RandomState(1).randn(2, 4, 5), np.random.RandomState(2).randn(2, 3, 7)
    expected = model.predict([a, b], verbose=0)
    clone = model_from_json(model.to_json())
    assert isinstance(clone, Functional) and [type(x).__name__ for x in clone.layers] == [
        type(x).__name__ for x in model.layers
    ]
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict([a, b], verbose=0), expected)
    clone.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    result = clone.evaluate([a, b], np.zeros((2, 3)), verbose=0)
    assert clone.metrics_names == ["loss", "accuracy"] and len(result) == 2
    model.save(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(load_model(tmp_path / "m.safetensors").predict([a, b], verbose=0), expected)


def test_summary_lists_every_layer_with_its_output_shape():
    model, *_ = _seq2seq()
    lines: list[str] = []
    model.summary(print_fn=lines.append, line_length=120)
    text = "\n".join(lines)
    assert "(None, None, 7)" in text and "Total params: 721" in text
    assert text.count("(InputLayer)") == 2 and "(None, None, 6), (None, 6), (None, 6)" in text


def test_input_starts_a_sequential_with_an_integer_dtype():
    model = Sequential([rnnkit.Input(shape=(5,), dtype="int32"), layers.Embedding(10, 3, mask_zero=True)])
    model.add(layers.LSTM(4))
    assert model.built and model.predict(np.array([[1, 2, 0, 0, 0]]), verbose=0).shape == (1, 4)


def test_torch_optimizer_and_torch_loss_instances_in_compile():
    torch.manual_seed(0)
    x = rnnkit.Input(shape=(4, 2))
    model = Model(x, layers.Dense(1)(layers.SimpleRNN(4)(x)))
    model.compile(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), loss=torch.nn.MSELoss())
    data = np.random.RandomState(0).randn(32, 4, 2).astype("float32")
    target = data[:, -1, :1]
    first = model.evaluate(data, target, verbose=0)
    model.fit(data, target, epochs=10, batch_size=8, verbose=0)
    assert model.evaluate(data, target, verbose=0) < 0.5 * first
    # A torch optimizer made before the weights exist cannot train them: refused, not ignored.
    lazy = Sequential([layers.Dense(1)])
    lazy.compile(optimizer=torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1), loss="mse")
    with pytest.raises(ConfigError, match="over all the model's weights"):
        lazy.fit(data[:, 0], target, epochs=1, verbose=0)


def test_bad_graphs_are_refused_with_the_reason():
    x, other = rnnkit.Input(shape=(3,)), rnnkit.Input(shape=(3,))
    y = layers.Dense(2)(layers.Add()([x, other]) if hasattr(layers, "Add") else other)
    with pytest.raises(ConfigError, match="graph disconnected: output depends on Input"):
        Model(x, y)
    with pytest.raises(ConfigError, match=r"outputs='a Tensor' is not valid: expected symbolic tensors"):
        Model(x, torch.zeros(1))
    with pytest.raises(ConfigError, match="made by Input"):
        Model(layers.Dense(2)(x), y)
    model = Model(x, layers.Dense(2)(x))
    with pytest.raises(ConfigError, match=r"one per Input"):
        model(torch.zeros(2, 3), torch.zeros(2, 3))


def test_a_whole_model_is_a_layer_shared_between_inputs():
    encoder = Sequential([layers.Embedding(20, 4, mask_zero=True), layers.LSTM(5)])
    a, b = rnnkit.Input(shape=(None,), dtype="int64"), rnnkit.Input(shape=(None,), dtype="int64")
    both = layers.Concatenate()([encoder(a), encoder(b)])
    model = Model([a, b], layers.Dense(1)(both))
    assert encoder in list(model.layers) and model.count_params() == encoder.count_params() + 2 * 5 + 1
    x1, x2 = torch.tensor([[3, 4, 0, 0], [5, 6, 7, 8]]), torch.tensor([[1, 2], [3, 0]])
    out = model([x1, x2])
    head = model.layers[-1]
    expected = head(torch.cat([encoder(x1), encoder(x2)], -1))
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    clone = model_from_json(model.to_json())
    clone.set_weights(model.get_weights())
    torch.testing.assert_close(clone([x1, x2]), out, rtol=0, atol=0)


def test_a_model_class_named_like_a_layer_does_not_capture_its_entries():
    # Only a model's own entry (with its class_path) names a model: a user's Model subclass
    # called "Dense" must not be what a functional graph's Dense layer is rebuilt as.
    from rnnkit.models import saving

    ids = rnnkit.Input(shape=(None,), dtype="int64")
    model = Model(ids, layers.Dense(2)(layers.GRU(3)(layers.Embedding(20, 4)(ids))))
    clash = type("Dense", (Model,), {"__qualname__": "local.Dense"})
    try:
        clone = model_from_json(model.to_json())
    finally:
        del saving.MODELS[clash.__name__], saving.MODELS_BY_PATH[saving.class_path(clash)]
    assert type(clone.layers[-1]) is layers.Dense
