"""compile / fit / evaluate / predict: inputs accepted, Keras semantics, pinned error messages."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit import (
    ConfigError,
    DataError,
    Model,
    Sequential,
    TrainingError,
    callbacks,
    layers,
    optimizers,
    set_seed,
)


def _data(n: int = 64, T: int = 6, F: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, T, F)).astype("float32")
    y = (x[:, :, 0].sum(axis=1) > 0).astype("float32")
    return x, y


def _model(units: int = 8) -> Sequential:
    return Sequential([layers.SimpleRNN(units), layers.Dense(1, activation="sigmoid")])


def _compiled(**kw: object) -> Sequential:
    model = _model()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"], **kw)
    return model


def test_fit_returns_history_with_keras_keys_and_learns() -> None:
    set_seed(0)
    x, y = _data(256)
    model = _compiled()
    model.optimizer.lr = 0.01
    h = model.fit(x, y, epochs=8, batch_size=32, validation_split=0.25, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert h.epoch == list(range(8))
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert h.history["accuracy"][-1] > 0.8
    assert model.history is h


def test_epoch_loss_is_the_sample_mean_of_the_batch_losses() -> None:
    # Keras: the epoch's loss is the mean over its samples, i.e. batch losses weighted by batch size.
    x, y = _data(50)
    model = _compiled()
    model.compile(optimizer=optimizers.SGD(learning_rate=1e-9), loss="binary_crossentropy")
    h = model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    with torch.no_grad():
        p = torch.from_numpy(model.predict(x)).clamp(1e-7, 1 - 1e-7).squeeze(-1)
        t = torch.from_numpy(y)
        bce = -(t * p.log() + (1 - t) * (1 - p).log())
    assert h.history["loss"][0] == pytest.approx(float(bce.mean()), rel=1e-4)


def test_validation_split_takes_the_last_fraction_unshuffled() -> None:
    x, y = _data(100)
    model = _compiled()
    model.compile(optimizer=optimizers.SGD(learning_rate=1e-9), loss="mse")
    h = model.fit(x, y, epochs=1, validation_split=0.2, verbose=0)
    assert h.history["val_loss"][0] == pytest.approx(model.evaluate(x[80:], y[80:], verbose=0), rel=1e-4)


def test_identical_seeds_give_identical_histories() -> None:
    x, y = _data(96)

    def run() -> dict[str, list[float]]:
        set_seed(123)
        model = Sequential(
            [layers.LSTM(8, dropout=0.2), layers.Dropout(0.3), layers.Dense(1, activation="sigmoid")]
        )
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0).history

    assert run() == run()


def test_accepts_tensors_datasets_and_loaders() -> None:
    x, y = _data(64)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    ds = torch.utils.data.TensorDataset(xt, yt)
    for data, kw in [
        ((xt, yt), {}),
        ((ds,), {}),
        ((torch.utils.data.DataLoader(ds, batch_size=16),), {}),
    ]:
        set_seed(0)
        model = _compiled()
        h = model.fit(*data, epochs=2, verbose=0, validation_data=(x[:8], y[:8]), **kw)
        assert len(h.history["loss"]) == 2 and np.isfinite(h.history["val_loss"]).all()


def test_variable_length_lists_are_padded_and_masked() -> None:
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(int(n), 2)).astype("float32") for n in rng.integers(2, 9, size=40)]
    y = np.array([float(s[:, 0].sum() > 0) for s in seqs], dtype="float32")
    model = _compiled()
    model.fit(seqs, y, epochs=1, batch_size=8, verbose=0)
    # A masked (padded) sequence predicts the same as the sequence alone.
    alone = model.predict([seqs[0]])
    padded = model.predict(seqs[:8])[:1]
    np.testing.assert_allclose(alone, padded, atol=1e-6)


def test_sample_weight_and_class_weight_follow_keras() -> None:
    x, y = _data(32)
    model = _compiled()
    model.compile(optimizer=optimizers.SGD(learning_rate=1e-9), loss="binary_crossentropy")
    base = model.evaluate(x, y, verbose=0)
    w = np.full(32, 2.0, dtype="float32")
    # sum_over_batch_size: sum(l_i w_i) / N
    assert model.evaluate(x, y, sample_weight=w, verbose=0) == pytest.approx(2 * base, rel=1e-5)
    h0 = model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0)
    h2 = model.fit(x, y, epochs=1, batch_size=32, shuffle=False, verbose=0, class_weight={0: 2.0, 1: 2.0})
    assert h2.history["loss"][0] == pytest.approx(2 * h0.history["loss"][0], rel=1e-4)


def test_predict_is_batched_in_eval_mode_and_restores_the_mode() -> None:
    x, _ = _data(40)
    model = Sequential([layers.SimpleRNN(4), layers.Dropout(0.9), layers.Dense(1)])
    model.train()
    a = model.predict(x, batch_size=7)
    b = model.predict(x, batch_size=40)
    assert model.training
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert a.shape == (40, 1) and isinstance(a, np.ndarray)


def test_train_on_batch_and_test_on_batch() -> None:
    x, y = _data(16)
    model = _compiled()
    loss, acc = model.train_on_batch(x, y)
    assert np.isfinite(loss) and 0 <= acc <= 1
    logs = model.test_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}


def test_losses_and_metrics_by_name() -> None:
    x, _ = _data(32)
    rng = np.random.default_rng(1)
    y_int = rng.integers(0, 3, size=32)
    for loss, metrics, target, act in [
        (
            "sparse_categorical_crossentropy",
            ["accuracy", "sparse_top_k_categorical_accuracy"],
            y_int,
            "softmax",
        ),
        ("categorical_crossentropy", ["accuracy", "top_k_categorical_accuracy"], np.eye(3)[y_int], "softmax"),
        ("mse", ["mae", "mse"], rng.normal(size=(32, 3)), None),
        ("huber", ["mae"], rng.normal(size=(32, 3)), None),
        ("mae", ["mse"], rng.normal(size=(32, 3)), None),
    ]:
        model = Sequential([layers.GRU(4), layers.Dense(3, activation=act)])
        model.compile(optimizer="rmsprop", loss=loss, metrics=metrics)
        logs = model.evaluate(x, target, verbose=0, return_dict=True)
        assert set(logs) == {"loss", *metrics}
        assert all(np.isfinite(v) for v in logs.values())


def test_perplexity_is_exp_of_the_crossentropy() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, size=(16, 5))
    y = rng.integers(0, 20, size=(16, 5))
    model = Sequential([layers.Embedding(20, 8), layers.LSTM(8, return_sequences=True), layers.Dense(20)])
    model.compile(
        loss=__import__("rnnkit").losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["perplexity"],
    )
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["perplexity"] == pytest.approx(np.exp(logs["loss"]), rel=1e-4)


def test_regularization_losses_are_added_to_the_loss() -> None:
    x, y = _data(32)
    model = Sequential([layers.SimpleRNN(4), layers.Dense(1, kernel_regularizer="l2")])
    model.compile(optimizer="sgd", loss="mse")
    total = model.evaluate(x, y, verbose=0)
    penalty = float(torch.as_tensor(model.regularization_loss()).detach())
    plain = Sequential([layers.SimpleRNN(4), layers.Dense(1)])
    plain(torch.from_numpy(x))
    plain.load_state_dict(model.state_dict())
    plain.compile(optimizer="sgd", loss="mse")
    assert penalty > 0
    assert total == pytest.approx(plain.evaluate(x, y, verbose=0) + penalty, rel=1e-5)


def test_several_inputs_and_outputs_in_a_subclassed_model() -> None:
    class Seq2Seq(Model):
        def __init__(self, vocab: int = 12, units: int = 8) -> None:
            super().__init__()
            self.src_emb = layers.Embedding(vocab, 6, mask_zero=True)
            self.encoder = layers.LSTM(units, return_state=True)
            self.tgt_emb = layers.Embedding(vocab, 6)
            self.decoder = layers.LSTM(units, return_sequences=True)
            self.head = layers.Dense(vocab)
            self.length = layers.Dense(1)

        def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> dict[str, torch.Tensor]:
            _, h, c = self.encoder(self.src_emb(src))
            return {
                "tokens": self.head(self.decoder(self.tgt_emb(tgt_in), initial_state=[h, c])),
                "len": self.length(h),
            }

    rng = np.random.default_rng(0)
    src, tgt = rng.integers(1, 12, size=(32, 7)), rng.integers(1, 12, size=(32, 6))
    set_seed(0)
    model = Seq2Seq()
    from rnnkit.losses import SparseCategoricalCrossentropy

    model.compile(
        optimizer="adam",
        loss={"tokens": SparseCategoricalCrossentropy(from_logits=True), "len": "mse"},
        loss_weights={"tokens": 1.0, "len": 0.1},
        metrics=["accuracy"],
    )
    h = model.fit((src, tgt[:, :-1]), {"tokens": tgt[:, 1:], "len": np.full(32, 7.0)}, epochs=3, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert "tokens_accuracy" in h.history
    out = model.predict((src, tgt[:, :-1]))
    assert out["tokens"].shape == (32, 5, 12) and out["len"].shape == (32, 1)


def test_verbose_prints_plain_lines_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = _data(64)
    _compiled().fit(x, y, epochs=2, batch_size=32, verbose=1)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    assert out[1].startswith("2/2 - ") and " - loss: " in out[1] and " - accuracy: " in out[1]
    _compiled().fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_summary_is_keras_like(capsys: pytest.CaptureFixture[str]) -> None:
    model = Sequential(
        [
            layers.Input((10, 4)),
            layers.SimpleRNN(64, return_sequences=True),
            layers.SimpleRNN(32),
            layers.Dense(1),
        ]
    )
    model.summary()
    out = capsys.readouterr().out
    assert out.startswith('Model: "sequential')
    assert "Layer (type)" in out and "Output Shape" in out and "Param #" in out
    assert "(SimpleRNN)" in out and "(None, 10, 64)" in out and "(None, 32)" in out and "(None, 1)" in out
    total = model.count_params()
    assert f"Total params: {total:,}" in out and "Non-trainable params: 0" in out
    with pytest.raises(ConfigError, match="is not built yet"):
        _model().summary()


# ------------------------------------------------------------------ bad input, messages pinned
def test_x_and_y_of_different_lengths() -> None:
    x, y = _data(10)
    with pytest.raises(DataError) as e:
        _compiled().fit(x, y[:9], verbose=0)
    assert str(e.value) == (
        "x and y have different lengths: x has 10 samples, y has 9. "
        "Expected the same number of samples in x and y."
    )


def test_nan_in_the_inputs() -> None:
    x, y = _data(10)
    x[3, 2, 1] = np.nan
    with pytest.raises(DataError) as e:
        _compiled().fit(x, y, verbose=0)
    assert str(e.value) == (
        "x contains NaN (first in sample 3 of 10): expected finite values; drop or impute the missing values "
        "before training."
    )


def test_labels_of_the_wrong_type_for_the_loss() -> None:
    x, _ = _data(8)
    model = Sequential([layers.SimpleRNN(4), layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(DataError) as e:
        model.fit(x, np.eye(3)[np.arange(8) % 3] * 0.5, verbose=0)
    assert str(e.value) == (
        "y='float labels of shape (8, 3)' is not valid: expected integer class ids for "
        "loss='sparse_categorical_crossentropy' (one-hot labels need loss='categorical_crossentropy')."
    )
    model.compile(loss="categorical_crossentropy")
    with pytest.raises(DataError) as e:
        model.fit(x, np.arange(8) % 3, verbose=0)
    assert str(e.value) == (
        "y='labels of shape (8,)' is not valid: expected one-hot labels of shape (8, 3) for "
        "loss='categorical_crossentropy' (integer class ids need loss='sparse_categorical_crossentropy')."
    )
    model.compile(loss="sparse_categorical_crossentropy")
    with pytest.raises(DataError) as e:
        model.fit(x, np.arange(8), verbose=0)
    assert str(e.value) == "y='a class id 7' is not valid: expected ids in [0, 3) for 3 output units."
    binary = _compiled()
    with pytest.raises(DataError) as e:
        binary.fit(x, np.arange(8, dtype="float32"), shuffle=False, verbose=0)
    assert (
        str(e.value)
        == "y='a label 2' is not valid: expected labels in [0, 1] for loss='binary_crossentropy'."
    )


def test_unknown_names() -> None:
    model = _model()
    with pytest.raises(ConfigError) as e:
        model.compile(optimizer="adamm", loss="mse")
    assert (
        str(e.value) == "optimizer='adamm' is not valid: expected one of 'adam', 'adamw', 'rmsprop', 'sgd'."
    )
    with pytest.raises(ConfigError) as e:
        model.compile(optimizer="adam", loss="binary_crossentropi")
    assert str(e.value).startswith(
        "loss='binary_crossentropi' is not valid: expected one of 'bce', 'binary_crossentropy',"
    )
    with pytest.raises(ConfigError) as e:
        model.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
    assert str(e.value).startswith("metrics='acuracy' is not valid: expected one of 'acc', 'accuracy',")


@pytest.mark.parametrize("split", [-0.1, 1.0, 1.5])
def test_validation_split_outside_0_1(split: float) -> None:
    x, y = _data(10)
    with pytest.raises(ConfigError) as e:
        _compiled().fit(x, y, validation_split=split, verbose=0)
    assert str(e.value) == (
        f"validation_split={split!r} is not valid: expected a float in (0, 1), or 0 for no validation split."
    )


def test_nan_loss_stops_with_epoch_batch_and_clipping_advice() -> None:
    x, y = _data(64)
    model = _compiled()
    model.fit(x, y, epochs=1, verbose=0)  # build
    nan_at = {"batch": 0}

    def poison(batch: int, logs: dict) -> None:
        nan_at["batch"] += 1
        if nan_at["batch"] == 3:  # before the 3rd step: blow the weights up
            with torch.no_grad():
                model.layers[1].weight.fill_(float("nan"))

    with pytest.raises(TrainingError) as e:
        model.fit(
            x,
            y,
            epochs=2,
            batch_size=16,
            verbose=0,
            callbacks=[callbacks.LambdaCallback(on_train_batch_begin=poison)],
        )
    assert str(e.value) == (
        "the loss became nan at epoch 1, batch 3: training cannot go on. Recurrent networks often need "
        "gradient clipping: compile with optimizer=rnnkit.optimizers.Adam(clipnorm=1.0); a lower learning "
        "rate also helps."
    )


def test_terminate_on_nan_stops_quietly() -> None:
    x, y = _data(64)
    model = _compiled()
    model.fit(x, y, epochs=1, verbose=0)
    with torch.no_grad():
        model.layers[1].weight.fill_(float("nan"))
    h = model.fit(x, y, epochs=3, verbose=0, callbacks=[callbacks.TerminateOnNaN()])
    # Keras: the epoch in which it happened is still logged, with its NaN loss
    assert h.epoch == [0] and np.isnan(h.history["loss"][0])


def test_bf16_autocast_trains() -> None:
    x, y = _data(64)
    model = Sequential(
        [
            layers.Dense(8, activation="tanh"),
            layers.GlobalAveragePooling1D(),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", mixed_precision="bf16")
    h = model.fit(x, y, epochs=2, verbose=0)
    assert np.isfinite(h.history["loss"]).all()
    assert model.predict(x).dtype == np.float32
    with pytest.raises(ConfigError, match="mixed_precision='fp8' is not valid"):
        model.compile(loss="mse", mixed_precision="fp8")


def test_clipping_options() -> None:
    x, y = _data(32)
    for opt in [
        optimizers.Adam(clipnorm=1.0),
        optimizers.SGD(clipvalue=0.5),
        optimizers.RMSprop(global_clipnorm=1.0),
        optimizers.AdamW(),
    ]:
        model = _model()
        model.compile(optimizer=opt, loss="binary_crossentropy")
        assert np.isfinite(model.fit(x, y, epochs=1, verbose=0).history["loss"]).all()
    assert optimizers.Adam().epsilon == 1e-7 and optimizers.Adam().learning_rate == 0.001
    assert optimizers.AdamW().weight_decay == 0.004 and optimizers.SGD().learning_rate == 0.01


@pytest.mark.gpu
def test_trains_on_cuda() -> None:
    x, y = _data(64)
    model = _compiled(device="cuda")
    h = model.fit(x, y, epochs=2, verbose=0)
    assert next(model.parameters()).is_cuda and np.isfinite(h.history["loss"]).all()


def test_initial_epoch_resumes_the_epoch_count() -> None:
    x, y = _data(32)
    h = _compiled().fit(x, y, epochs=4, initial_epoch=2, verbose=0)
    assert h.epoch == [2, 3]


def test_live_progress_bar_on_a_terminal() -> None:
    import io

    from rnnkit.models import progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    progress.set_stream(out)
    try:
        x, y = _data(64)
        _compiled().fit(x, y, epochs=1, batch_size=16, verbose=1)
    finally:
        progress.set_stream(None)
    text = out.getvalue()
    assert "Epoch 1/1" in text and "4/4" in text and "loss:" in text and "━" in text


def test_subclassed_model_summary_lists_its_layers(capsys: pytest.CaptureFixture[str]) -> None:
    class Tagger(Model):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = layers.GRU(5, return_sequences=True)
            self.out = layers.Dense(3)

        def call(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(self.rnn(x))

    model = Tagger()
    model.compile(loss="mse")
    x = np.zeros((4, 7, 2), dtype="float32")
    model.predict(x)
    model.summary()
    out = capsys.readouterr().out
    assert 'Model: "tagger' in out and "(GRU)" in out and "(None, 7, 5)" in out and "(None, 7, 3)" in out
