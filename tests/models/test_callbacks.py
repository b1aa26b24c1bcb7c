"""Callbacks: Keras's behaviour for each, and the training-curve PNG."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from rnnkit import (
    ConfigError,
    MissingDependencyError,
    Sequential,
    callbacks,
    layers,
    load_model,
    optimizers,
    set_seed,
)
from rnnkit.models import plot_history


def _data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 5, 2)).astype("float32")
    return x, (x[:, :, 0].mean(axis=1) > 0).astype("float32")


def _model(lr: float = 0.01) -> Sequential:
    set_seed(0)
    model = Sequential([layers.GRU(6), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizers.Adam(lr), loss="binary_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.slow
def test_early_stopping_restores_the_best_weights() -> None:
    x, y = _data()
    model = _model(lr=0.5)  # a large step: val_loss soon gets worse
    seen: list[dict[str, torch.Tensor]] = []
    keep = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append({k: v.clone() for k, v in model.state_dict().items()})
    )
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    h = model.fit(x, y, epochs=30, validation_split=0.25, verbose=0, callbacks=[keep, stop])
    best = int(np.argmin(h.history["val_loss"]))
    assert len(h.epoch) < 30 and stop.stopped_epoch == h.epoch[-1]
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, seen[best][k], rtol=0, atol=0)


def test_model_checkpoint_best_only_and_filename_pattern(tmp_path) -> None:
    x, y = _data()
    model = _model()
    ckpt = callbacks.ModelCheckpoint(
        str(tmp_path / "m-{epoch:02d}-{val_loss:.3f}.safetensors"), monitor="val_loss", save_best_only=True
    )
    h = model.fit(x, y, epochs=4, validation_split=0.25, verbose=0, callbacks=[ckpt])
    files = sorted(p.name for p in tmp_path.iterdir())
    improved = [e for e in range(4) if h.history["val_loss"][e] == min(h.history["val_loss"][: e + 1])]
    assert files == [f"m-{e + 1:02d}-{h.history['val_loss'][e]:.3f}.safetensors" for e in improved]
    last = load_model(tmp_path / files[-1])
    assert last.initial_epoch == improved[-1] + 1


def test_reduce_lr_on_plateau_logs_and_lowers_the_rate() -> None:
    x, y = _data()
    model = _model(lr=1e-9)  # nothing improves
    cb = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1.0, min_lr=2e-10)
    h = model.fit(x, y, epochs=4, verbose=0, callbacks=[cb])
    assert h.history["learning_rate"][0] == pytest.approx(1e-9)
    assert model.optimizer.lr == pytest.approx(2e-10)


def test_csv_logger_writes_one_row_per_epoch(tmp_path) -> None:
    x, y = _data()
    path = tmp_path / "log.csv"
    h = _model().fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[callbacks.CSVLogger(path)])
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert float(rows[2]["val_loss"]) == pytest.approx(h.history["val_loss"][2])


def test_lambda_callback_and_stop_training() -> None:
    x, y = _data()
    model = _model()
    calls: list[str] = []
    cb = callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append("begin"),
        on_train_batch_end=lambda batch, logs: calls.append(f"b{batch}"),
        on_epoch_end=lambda epoch, logs: setattr(model, "stop_training", epoch == 1),
    )
    h = model.fit(x, y, epochs=5, batch_size=32, verbose=0, callbacks=[cb])
    assert h.epoch == [0, 1] and calls == ["begin", "b0", "b1", "b0", "b1"]
    with pytest.raises(
        ConfigError, match=r"^hook='on_epoch_ends' is not valid: expected one of 'on_train_begin', "
    ):
        callbacks.LambdaCallback(on_epoch_ends=lambda e, logs: None)


def test_tensorboard_without_the_package_says_what_to_install() -> None:
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match="pip install tensorboard"):
            callbacks.TensorBoard("logs")
    else:
        assert callbacks.TensorBoard("logs") is not None


@pytest.mark.slow  # importing matplotlib is most of it
def test_plot_history_writes_a_png(tmp_path) -> None:
    x, y = _data()
    h = _model().fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    path = tmp_path / "curve.png"
    plot_history(h, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
