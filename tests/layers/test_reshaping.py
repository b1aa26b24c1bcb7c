"""Flatten, Reshape, Permute, RepeatVector: parity with Keras 3 (torch backend), errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import check_layer, keras_drops_mask

from rnnkit import layers
from rnnkit.errors import ConfigError, ShapeError

CASES = [
    ("Flatten", {}, (2, 3, 4, 2)),
    ("Flatten", {"data_format": "channels_first"}, (2, 3, 4, 2)),
    ("Reshape", {"target_shape": (4, 6)}, (2, 3, 8)),
    ("Reshape", {"target_shape": (-1, 2)}, (2, 3, 4)),
    ("Permute", {"dims": (2, 1)}, (2, 3, 4)),
    ("Permute", {"dims": (3, 1, 2)}, (2, 3, 4, 5)),
    ("RepeatVector", {"n": 3}, (2, 4)),
]


@pytest.mark.parametrize("cls,kwargs,shape", CASES, ids=lambda v: str(v))
def test_matches_keras(cls: str, kwargs: dict, shape: tuple) -> None:
    check_layer(cls, kwargs, input_shape=shape)


def test_masks_are_dropped_as_in_keras() -> None:
    mask = np.array([[1, 1, 0], [1, 1, 1]], bool)
    for cls, kwargs in [("Flatten", {}), ("Permute", {"dims": (2, 1)})]:
        with keras_drops_mask():
            check_layer(cls, kwargs, input_shape=(2, 3, 4), mask=mask)


def test_symbolic_shapes() -> None:
    assert layers.Reshape((-1, 2)).compute_output_shape((None, 3, 4)) == (None, 6, 2)
    assert layers.Reshape((-1, 2)).compute_output_shape((None, None, 4)) == (None, None, 2)
    assert layers.Flatten().compute_output_shape((None, 3, None)) == (None, None)


def test_errors() -> None:
    with pytest.raises(ConfigError, match=r"target_shape=\(-1, -1\) is not valid: expected at most one -1"):
        layers.Reshape((-1, -1))
    with pytest.raises(ShapeError, match=r"cannot be reshaped to target_shape=\(5,\): 6 values per sample"):
        layers.Reshape((5,))(torch.zeros(2, 6))
    with pytest.raises(ConfigError, match=r"dims=\(1, 3\) is not valid"):
        layers.Permute((1, 3))
    with pytest.raises(ShapeError, match="expected 2 dimensions"):
        layers.RepeatVector(2)(torch.zeros(2, 3, 4))
