"""The .ts reader on a small file, and JapaneseVowels from aeon's bundled files."""

import numpy as np
import pytest

from rnnkit import datasets
from rnnkit.datasets.tsfile import read_ts
from rnnkit.errors import DataError


def test_read_ts_small_file(tmp_path):
    path = tmp_path / "toy.ts"
    path.write_text(
        "# comment\n@problemName toy\n@classLabel true a b\n@data\n1,2,3:4,5,6:a\n7,?:8,9:b\n",
        encoding="utf-8",
    )
    series, labels, header = read_ts(path)
    assert labels == ["a", "b"] and header["problemname"] == "toy"
    assert series[0].shape == (3, 2) and series[0][:, 1].tolist() == [4, 5, 6]  # (T, D)
    assert np.isnan(series[1][1, 0])
    path.write_text("@data\n1,2:3:a\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2: its dimensions have different lengths"):
        read_ts(path)
    path.write_text("@data\n", encoding="utf-8")
    with pytest.raises(DataError, match="has no series after @data"):
        read_ts(path)


def test_japanese_vowels():
    ds = datasets.load("japanese_vowels")
    assert ds.splits == {"train": 240, "validation": 30, "test": 370} == ds.info.splits
    assert ds.classes == [str(i) for i in range(1, 10)]
    lengths = [x.shape[0] for x in ds.train + ds.validation + ds.test]
    assert min(lengths) == 7 and max(lengths) == 29
    assert all(x.shape[1] == 12 and x.dtype == np.float32 for x in ds.train)
    all_train = np.concatenate([ds.train_labels, ds.validation_labels])
    assert np.bincount(all_train).tolist() == [30] * 9
