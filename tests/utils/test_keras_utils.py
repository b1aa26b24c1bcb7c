"""Keras's data utilities at Keras's paths: to_categorical and pad_sequences against Keras 3
itself, timeseries_dataset_from_array against windows worked out by hand (Keras's version
needs TensorFlow, which the tests do not install)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.errors import ConfigError, DataError
from rnnkit.utils import pad_sequences, timeseries_dataset_from_array, to_categorical


@pytest.mark.parametrize("labels", [[0, 2, 1], [[1], [3]], [[0, 1], [2, 2]], np.array([1.0, 0.0])])
def test_to_categorical_matches_keras(labels):
    ours = to_categorical(labels, 4)
    theirs = np.asarray(keras.utils.to_categorical(np.asarray(labels), 4))
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(to_categorical([0, 2]), [[1, 0, 0], [0, 0, 1]])  # num_classes = max + 1


def test_to_categorical_refuses_what_is_not_a_class_id():
    with pytest.raises(DataError, match=r"ids in 0\.\.2"):
        to_categorical([0, 3], 3)
    with pytest.raises(DataError, match="integer class ids"):
        to_categorical([0.5])
    with pytest.raises(ConfigError, match="num_classes"):
        to_categorical([0], 0)


def test_pad_sequences_is_keras_s():
    seqs = [[1, 2, 3, 4], [5], []]
    for kwargs in ({}, {"maxlen": 2}, {"padding": "post", "truncating": "post", "maxlen": 3, "value": -1}):
        np.testing.assert_array_equal(
            pad_sequences(seqs, **kwargs), keras.utils.pad_sequences(seqs, **kwargs)
        )
    assert rnnkit.preprocessing.sequence.pad_sequences is pad_sequences


def test_timeseries_windows_and_targets_by_hand():
    data = np.arange(20, dtype=np.float64).reshape(10, 2)  # row t = [2t, 2t + 1]
    ds = timeseries_dataset_from_array(
        data,
        np.arange(10) * 10,
        sequence_length=3,
        sequence_stride=2,
        sampling_rate=2,
        batch_size=2,
        start_index=1,
    )
    batches = list(ds)
    # start positions 1, 3 (then 5 would need row 9 = 5 + 2 * 2: allowed) -> 1, 3, 5
    windows = torch.cat([x for x, _ in batches])[:, :, 0] / 2
    assert windows.tolist() == [[1, 3, 5], [3, 5, 7], [5, 7, 9]]
    assert torch.cat([y for _, y in batches]).tolist() == [10, 30, 50]
    assert batches[0][0].dtype == torch.float32  # float64 in, float32 out (what the layers compute in)
    assert len(ds) == 2 and len(ds.take(1)) == 1


def test_timeseries_without_targets_unbatched_and_shuffled():
    data = np.arange(6)
    plain = list(timeseries_dataset_from_array(data, None, sequence_length=4, batch_size=None))
    assert [w.tolist() for w in plain] == [[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5]]
    ds = timeseries_dataset_from_array(data, None, sequence_length=2, batch_size=10, shuffle=True, seed=3)
    first, second = next(iter(ds)), next(iter(ds))
    assert sorted(first[:, 0].tolist()) == [0, 1, 2, 3, 4] and first.tolist() != second.tolist()
    again = timeseries_dataset_from_array(data, None, sequence_length=2, batch_size=10, shuffle=True, seed=3)
    assert next(iter(again)).tolist() == first.tolist()  # the seed fixes the order


def test_timeseries_refuses_bad_arguments():
    with pytest.raises(ConfigError, match="sequence_length"):
        timeseries_dataset_from_array(np.zeros(5), None, sequence_length=0)
    with pytest.raises(DataError, match="usable rows"):
        timeseries_dataset_from_array(np.zeros(5), None, sequence_length=3, sampling_rate=3)


def test_a_timeseries_dataset_feeds_fit():
    rnnkit.set_seed(0)
    series = np.sin(np.arange(300) / 5.0)[:, None]
    ds = timeseries_dataset_from_array(series[:-5], series[5:], sequence_length=5, batch_size=32)
    model = rnnkit.Sequential([rnnkit.Input(shape=(5, 1)), rnnkit.layers.GRU(8), rnnkit.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(ds, epochs=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
