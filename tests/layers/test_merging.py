"""Merge layers: parity with Keras 3 (torch backend) forward and backward, rank broadcasting,
and Keras's mask rules (OR for element-wise merges, joined masks for Concatenate)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.helpers import check_layer

from rnnkit import layers
from rnnkit.errors import ShapeError

B, T, D = 2, 4, 3
CASES = [
    ("Add", {}, [(B, T, D)] * 3),
    ("Subtract", {}, [(B, T, D)] * 2),
    ("Multiply", {}, [(B, T, D), (B, T, D)]),
    ("Average", {}, [(B, T, D)] * 3),
    ("Maximum", {}, [(B, T, D)] * 2),
    ("Minimum", {}, [(B, T, D)] * 2),
    ("Add", {}, [(B, T, D), (B, D)]),  # a (B, D) input acts on every step (expanded at axis 1)
    ("Concatenate", {}, [(B, T, D), (B, T, 2)]),
    ("Concatenate", {"axis": 1}, [(B, T, D), (B, 2, D)]),
]


@pytest.mark.parametrize("cls,kwargs,shapes", CASES, ids=lambda v: str(v))
def test_matches_keras(cls: str, kwargs: dict, shapes: list) -> None:
    check_layer(cls, kwargs, input_shape=shapes)


M1 = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], bool)
M2 = np.array([[1, 0, 1, 0], [1, 1, 1, 1]], bool)


@pytest.mark.parametrize(
    "cls,kwargs,shapes,masks",
    [
        ("Add", {}, [(B, T, D)] * 2, [M1, M2]),  # OR
        ("Average", {}, [(B, T, D)] * 2, [M1, None]),  # one unmasked input: no mask
        ("Concatenate", {}, [(B, T, D), (B, T, 2)], [M1, M2]),
        ("Concatenate", {}, [(B, T, D), (B, T, 2)], [M1, None]),
        ("Concatenate", {"axis": 1}, [(B, T, D), (B, T, D)], [M1, M2]),  # masks joined in time
    ],
    ids=str,
)
def test_masks_match_keras(cls: str, kwargs: dict, shapes: list, masks: list) -> None:
    check_layer(cls, kwargs, input_shape=shapes, mask=masks)


def test_masks_flow_from_embedding() -> None:
    emb = layers.Embedding(10, 3, mask_zero=True)
    a, b = emb(torch.tensor([[1, 2, 0]])), emb(torch.tensor([[1, 0, 0]]))
    out = layers.Concatenate()([a, b])
    assert out._keras_mask.tolist() == [[True, True, False]]


def test_shapes_and_errors() -> None:
    assert layers.Concatenate(axis=1).compute_output_shape([(None, 4, 3), (None, 2, 3)]) == (None, 6, 3)
    assert layers.Add().compute_output_shape([(None, 4, 3), (None, 3)]) == (None, 4, 3)
    with pytest.raises(ShapeError, match=r"called on 3 inputs: expected exactly 2"):
        layers.Subtract()([torch.zeros(1, 2)] * 3)
    with pytest.raises(ShapeError, match=r"do not broadcast together"):
        layers.Add()([torch.zeros(1, 2), torch.zeros(1, 3)])
    with pytest.raises(ShapeError, match=r"cannot be concatenated on axis=-1"):
        layers.Concatenate()([torch.zeros(1, 2, 3), torch.zeros(1, 4, 3)])
    with pytest.raises(ShapeError, match=r"input_shape=\(1, 2\) is not valid: expected a list of shapes"):
        layers.Add()(torch.zeros(1, 2))
