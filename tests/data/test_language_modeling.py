"""batchify + BPTT windows (the word_language_model layout) and sliding next-token windows."""

import pytest
import torch

from rnnkit.data import batchify, bptt_batches, get_bptt_batch, sliding_windows
from rnnkit.errors import ConfigError, DataError


def test_batchify_alphabet_columns():
    stream = list(range(26))  # a..z
    cols = batchify(stream, 4)
    assert cols.shape == (6, 4)
    assert cols[:, 1].tolist() == [6, 7, 8, 9, 10, 11]  # column 1 is g..l, contiguous; y, z dropped


def test_bptt_windows_are_next_token_and_cover_the_columns():
    src = batchify(torch.arange(100), 4)  # (25, 4)
    x, y = get_bptt_batch(src, 0, 2)
    assert torch.equal(y[:-1], x[1:]) and torch.equal(y[0], src[1])
    windows = list(bptt_batches(src, 7))
    assert [len(w[0]) for w in windows] == [7, 7, 7, 3]  # 24 predictable rows
    assert torch.equal(torch.cat([w[0] for w in windows]), src[:-1])
    assert torch.equal(torch.cat([w[1] for w in windows]), src[1:])
    xb, yb = next(bptt_batches(src, 7, batch_first=True))
    assert xb.shape == (4, 7) and torch.equal(yb[:, :-1], xb[:, 1:])


def test_sliding_windows():
    x, y = sliding_windows(list(range(10)), 3)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert y.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    x, y = sliding_windows(list(range(6)), 3, stride=1, target="last")
    assert x.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4]] and y.tolist() == [3, 4, 5]


def test_lm_errors():
    with pytest.raises(DataError, match=r"^a stream of 5 tokens is too short for batch_size=4"):
        batchify(range(5), 4)
    with pytest.raises(ConfigError, match=r"^bptt=0 is not valid: expected an integer >= 1\.$"):
        get_bptt_batch(batchify(range(8), 2), 0, 0)
    with pytest.raises(DataError, match=r"need at least 4 \(the inputs plus one target\)"):
        sliding_windows([1, 2, 3], 3)
    with pytest.raises(
        ConfigError, match=r"^target='all' is not valid: expected one of 'sequence', 'last'\.$"
    ):
        sliding_windows(range(10), 3, target="all")
    with pytest.raises(DataError, match=r"expected a 1-D token stream"):
        batchify(torch.zeros(3, 3, dtype=torch.long), 2)
