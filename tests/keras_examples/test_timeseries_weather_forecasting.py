"""keras.io examples/timeseries/timeseries_weather_forecasting.py: an LSTM on weather windows.

Imports changed to ``import rnnkit as keras``. The example reads the Jena climate CSV (14
features every 10 minutes); this reads the real daily Seattle weather (vega_datasets: 4
numeric features), with the example's steps scaled to days: past 60, future 1, step 3,
batch 64, 5 epochs. ``keras.preprocessing.timeseries_dataset_from_array``, ``take``,
``.numpy()``, ModelCheckpoint (``.weights.h5``, as Keras 3 requires) and EarlyStopping
run as in the example.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rnnkit as keras


def normalize(data, train_split):
    data_mean = data[:train_split].mean(axis=0)
    data_std = data[:train_split].std(axis=0)
    return (data - data_mean) / data_std


def test_timeseries_weather_forecasting(tmp_path, monkeypatch):
    vega = pytest.importorskip("vega_datasets")
    monkeypatch.chdir(tmp_path)
    keras.set_seed(0)
    df = vega.local_data.seattle_weather()
    feature_keys = ["precipitation", "temp_max", "temp_min", "wind"]
    split_fraction = 0.715
    train_split = int(split_fraction * int(df.shape[0]))
    step, past, future = 3, 60, 1
    learning_rate, batch_size, epochs = 0.001, 64, 5

    features = df[feature_keys]
    features.index = df["date"]
    features = normalize(features.values, train_split)
    features = pd.DataFrame(features)
    train_data = features.loc[0 : train_split - 1]
    val_data = features.loc[train_split:]

    start = past + future
    end = start + train_split
    x_train = train_data[[i for i in range(4)]].values
    y_train = features.iloc[start:end][[1]]
    sequence_length = int(past / step)
    dataset_train = keras.preprocessing.timeseries_dataset_from_array(
        x_train, y_train, sequence_length=sequence_length, sampling_rate=step, batch_size=batch_size
    )
    x_end = len(val_data) - past - future
    label_start = train_split + past + future
    x_val = val_data.iloc[:x_end][[i for i in range(4)]].values
    y_val = features.iloc[label_start:][[1]]
    dataset_val = keras.preprocessing.timeseries_dataset_from_array(
        x_val, y_val, sequence_length=sequence_length, sampling_rate=step, batch_size=batch_size
    )
    for batch in dataset_train.take(1):
        inputs, targets = batch
    assert inputs.numpy().shape == (batch_size, sequence_length, 4) and targets.numpy().shape == (
        batch_size,
        1,
    )

    inputs = keras.layers.Input(shape=(inputs.shape[1], inputs.shape[2]))
    lstm_out = keras.layers.LSTM(32)(inputs)
    outputs = keras.layers.Dense(1)(lstm_out)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
    model.summary(print_fn=lambda line: None)

    path_checkpoint = "model_checkpoint.weights.h5"
    es_callback = keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=0, patience=5)
    modelckpt_callback = keras.callbacks.ModelCheckpoint(
        monitor="val_loss", filepath=path_checkpoint, verbose=0, save_weights_only=True, save_best_only=True
    )
    history = model.fit(
        dataset_train,
        epochs=epochs,
        validation_data=dataset_val,
        callbacks=[es_callback, modelckpt_callback],
        verbose=0,
    )
    loss, val_loss = history.history["loss"], history.history["val_loss"]
    assert len(loss) == len(val_loss) == epochs and loss[-1] < loss[0]
    # Tomorrow's temp_max from 60 days: better than predicting the (normalized) mean.
    assert min(val_loss) < float(np.var(y_val.values))

    for x, y in dataset_val.take(2):
        plot_data = [x[0][:, 1].numpy(), y[0].numpy(), model.predict(x, verbose=0)[0]]
        assert plot_data[0].shape == (sequence_length,) and plot_data[2].shape == (1,)
    model.load_weights(path_checkpoint)  # the best epoch's weights, from a real Keras weights file
    assert (tmp_path / path_checkpoint).read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
