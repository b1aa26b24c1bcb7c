"""pad_sequences against keras.utils.pad_sequences (keras 3.15.1), collation, masks, buckets."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data import (
    BucketBatchSampler,
    bucket_batches,
    collate,
    lengths_to_mask,
    pad_sequences,
    padding_fraction,
)
from rnnkit.errors import ConfigError, DataError

keras = pytest.importorskip("keras")

seqs_st = st.lists(st.lists(st.integers(-5, 50), max_size=12), min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(
    seqs=seqs_st,
    maxlen=st.one_of(st.none(), st.integers(1, 15)),
    padding=st.sampled_from(["pre", "post"]),
    truncating=st.sampled_from(["pre", "post"]),
    value=st.sampled_from([0, 0.0, -1, 7.5]),
    dtype=st.sampled_from(["int32", "float32", "int64"]),
)
def test_matches_keras(seqs, maxlen, padding, truncating, value, dtype):
    if maxlen is None and not any(seqs):
        return  # keras: np.max of lengths works, gives a (N, 0) array; covered below
    ours = pad_sequences(
        seqs, maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating, value=value
    )
    theirs = keras.utils.pad_sequences(
        seqs, maxlen=maxlen, dtype=dtype, padding=padding, truncating=truncating, value=value
    )
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_feature_vectors_and_defaults():
    seqs = [np.ones((2, 3)), np.zeros((4, 3)), []]
    ours = pad_sequences(seqs, dtype="float32")
    np.testing.assert_array_equal(ours, keras.utils.pad_sequences(seqs, dtype="float32"))
    assert ours.shape == (3, 4, 3)
    assert pad_sequences([[1, 2, 3]], maxlen=2).tolist() == [[2, 3]]  # default truncating="pre" keeps the end
    assert pad_sequences([[], []]).shape == (2, 0)


def test_pad_errors():
    with pytest.raises(ConfigError, match=r"^padding='left' is not valid: expected one of 'pre', 'post'\.$"):
        pad_sequences([[1]], padding="left")
    with pytest.raises(ConfigError, match=r"^maxlen=0 is not valid: expected None or an integer >= 1\.$"):
        pad_sequences([[1]], maxlen=0)
    with pytest.raises(DataError, match=r"^sequences\[1\]=5 is not valid"):
        pad_sequences([[1], 5])
    with pytest.raises(DataError, match=r"sequences\[1\] has steps of shape \(3,\)"):
        pad_sequences([np.ones((2, 2)), np.ones((2, 3))], dtype="float32")


def test_collate_pads_right_with_lengths_and_mask():
    b = collate([([5, 6, 7], 1), ([8], 0)])
    assert b.inputs.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert b.lengths.tolist() == [3, 1]
    assert b.mask.tolist() == [[True, True, True], [True, False, False]]
    assert b.targets.tolist() == [1, 0]
    pre = collate([[1, 2], [3]], padding="pre", padding_value=-1)
    assert pre.inputs.tolist() == [[1, 2], [-1, 3]] and pre.targets is None
    assert pre.mask.tolist() == [[True, True], [False, True]]
    feats = collate([torch.ones(2, 4), torch.ones(5, 4)], maxlen=3)
    assert feats.inputs.shape == (2, 3, 4) and feats.lengths.tolist() == [2, 3]
    with pytest.raises(DataError, match="cannot collate an empty batch"):
        collate([])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=10), st.sampled_from(["pre", "post"]))
def test_mask_agrees_with_pad_sequences(lengths, padding):
    seqs = [[1] * n for n in lengths]
    padded = pad_sequences(seqs, padding=padding, value=0)
    mask = lengths_to_mask(lengths, padded.shape[1], padding)
    assert mask.numpy().tolist() == (padded != 0).tolist()


def test_bucket_batches_cover_everything_and_cut_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 500, size=1000).tolist()
    batches = bucket_batches(lengths, 32, seed=1)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert all(len(b) <= 32 for b in batches)
    random_batches = bucket_batches(lengths, 32, seed=1, bucket_size=1)
    assert padding_fraction(lengths, batches) < 0.1 < 0.3 < padding_fraction(lengths, random_batches)
    assert bucket_batches(lengths, 32, seed=1) == batches  # seeded: reproducible
    assert all(len(b) == 32 for b in bucket_batches(lengths, 32, drop_last=True))


def test_bucket_sampler_with_dataloader():
    lengths = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]
    data = [(list(range(n)), n % 2) for n in lengths]
    sampler = BucketBatchSampler(lengths, 3, bucket_size=2, seed=0)
    loader = torch.utils.data.DataLoader(data, batch_sampler=sampler, collate_fn=collate)
    seen = [b.lengths.tolist() for b in loader]
    assert sum(len(s) for s in seen) == 10 and len(seen) == len(sampler)
    second = [b.lengths.tolist() for b in loader]
    assert second != seen  # a new epoch reshuffles
    assert len(BucketBatchSampler(lengths, 3, bucket_size=2, drop_last=True)) == len(
        list(BucketBatchSampler(lengths, 3, bucket_size=2, drop_last=True))
    )
    with pytest.raises(ConfigError, match=r"^batch_size=0 is not valid: expected an integer >= 1\.$"):
        BucketBatchSampler(lengths, 0)
