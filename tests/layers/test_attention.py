"""layers.Attention / layers.AdditiveAttention: parity with Keras 3 (weights copied), masks,
a hand-computed golden value, float64 gradcheck, dropout, config round trip, errors.

Shapes: B=3, Tq=4 query steps, Tv=5 value steps, D=6 features.
"""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
import torch

from rnnkit import layers as rk
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers import deserialize_layer, serialize_layer

B, TQ, TV, D = 3, 4, 5, 6
Q_MASK = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=bool)
V_MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=bool)


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q, v, k = (rng.normal(size=s).astype("float32") for s in ((B, TQ, D), (B, TV, D), (B, TV, D)))
    return q, v, k


def _pair(kind: str, **kwargs):  # type: ignore[no-untyped-def]
    """A Keras layer and its rnnkit twin with the same (non-default) weights."""
    ours = getattr(rk, kind)(**kwargs)
    theirs = getattr(keras.layers, kind)(**kwargs)
    q, v, _ = _data()
    theirs([q, v])  # build
    ours([torch.from_numpy(q), torch.from_numpy(v)])
    rng = np.random.default_rng(7)
    new = [rng.normal(size=w.shape).astype("float32") * 0.5 + 1.0 for w in theirs.get_weights()]
    theirs.set_weights(new)
    ours.set_weights(new)
    return ours, theirs


CASES = [
    ("Attention", {}),
    ("Attention", {"use_scale": True}),
    ("Attention", {"score_mode": "concat"}),
    ("Attention", {"score_mode": "concat", "use_scale": True}),
    ("AdditiveAttention", {}),
    ("AdditiveAttention", {"use_scale": False}),
]


@pytest.mark.parametrize(("kind", "kwargs"), CASES, ids=[f"{k}-{a}" for k, a in CASES])
@pytest.mark.parametrize(("with_key", "masked", "causal"), list(itertools.product([False, True], repeat=3)))
def test_keras_parity(kind: str, kwargs: dict, with_key: bool, masked: bool, causal: bool) -> None:
    ours, theirs = _pair(kind, **kwargs)
    q, v, k = _data(1)
    np_in = [q, v, k] if with_key else [q, v]
    mask = [Q_MASK, V_MASK] if masked else None
    out_k, sc_k = theirs(np_in, mask=mask, return_attention_scores=True, use_causal_mask=causal)
    t_in = [torch.from_numpy(a) for a in np_in]
    t_mask = [torch.from_numpy(m) for m in mask] if masked else None
    out, sc = ours(t_in, mask=t_mask, return_attention_scores=True, use_causal_mask=causal)
    np.testing.assert_allclose(out.detach().numpy(), keras.ops.convert_to_numpy(out_k), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(sc.detach().numpy(), keras.ops.convert_to_numpy(sc_k), atol=1e-5, rtol=1e-5)


def test_masks_travel_on_tensors() -> None:
    """Embedding(mask_zero=True) outputs carry their masks into the layer; the output keeps the query's."""
    emb = rk.Embedding(10, D, mask_zero=True)
    q_ids = torch.tensor([[1, 2, 0], [3, 0, 0]])
    v_ids = torch.tensor([[4, 5, 6, 0], [7, 0, 0, 0]])
    layer = rk.Attention()
    q, v = emb(q_ids), emb(v_ids)
    out, scores = layer([q, v], return_attention_scores=True)
    explicit = layer([q.detach().clone(), v.detach().clone()], mask=[q_ids != 0, v_ids != 0])
    torch.testing.assert_close(out, explicit)
    assert torch.equal(out._keras_mask, q_ids != 0)
    assert float(scores.detach()[1, 0, 1:].abs().max()) < 1e-6  # padded value steps get no weight
    assert float(out.detach()[1, 1:].abs().max()) == 0.0  # padded query steps are zeroed


def test_golden_dot_by_hand() -> None:
    """One query, two values: weights softmax([q.v1, q.v2]) = softmax([1, 2])."""
    q = torch.tensor([[[1.0, 0.0]]])
    v = torch.tensor([[[1.0, 3.0], [2.0, 5.0]]])
    out, w = rk.Attention()([q, v], return_attention_scores=True)
    a = 1.0 / (1.0 + np.e)  # weight of the first value
    torch.testing.assert_close(w, torch.tensor([[[a, 1 - a]]]))
    torch.testing.assert_close(out, torch.tensor([[[a * 1 + (1 - a) * 2, a * 3 + (1 - a) * 5]]]))


def test_golden_additive_by_hand() -> None:
    """Unscaled additive score s_j = sum_d tanh(q_d + k_jd)."""
    q = torch.tensor([[[0.5, -0.5]]])
    v = torch.tensor([[[0.0, 0.0], [1.0, 1.0]]])
    _, w = rk.AdditiveAttention(use_scale=False)([q, v], return_attention_scores=True)
    s = np.array([np.tanh(0.5) + np.tanh(-0.5), np.tanh(1.5) + np.tanh(0.5)])
    expected = np.exp(s) / np.exp(s).sum()
    np.testing.assert_allclose(w.numpy()[0, 0], expected, rtol=1e-6)


@pytest.mark.parametrize(("kind", "kwargs"), CASES[1:5:3] + CASES[4:5])
def test_gradcheck_float64(kind: str, kwargs: dict) -> None:
    layer = getattr(rk, kind)(**kwargs)
    q, v, k = (torch.from_numpy(a).double().requires_grad_() for a in _data(2))
    layer([q, v, k])
    layer.double()
    mask = [torch.from_numpy(Q_MASK), torch.from_numpy(V_MASK)]
    params = [p for p in layer.parameters()]
    torch.autograd.gradcheck(lambda q, v, k, *ps: layer([q, v, k], mask=mask), (q, v, k, *params))


def test_dropout_only_in_training_and_seeded() -> None:
    q, v, _ = (torch.from_numpy(a) for a in _data(3))
    layer = rk.Attention(dropout=0.5, seed=3)
    eval_out = layer([q, v], training=False)
    torch.testing.assert_close(eval_out, rk.Attention()([q, v]))
    _, w1 = layer([q, v], training=True, return_attention_scores=True)
    zeros = float((w1 == 0).float().mean())
    assert 0.3 < zeros < 0.7
    again = rk.Attention(dropout=0.5, seed=3)
    _, w2 = again([q, v], training=True, return_attention_scores=True)
    torch.testing.assert_close(w1, w2)  # same seed, same masks


@pytest.mark.parametrize(("kind", "kwargs"), CASES)
def test_config_round_trip(kind: str, kwargs: dict) -> None:
    layer = getattr(rk, kind)(**kwargs)
    q, v, _ = (torch.from_numpy(a) for a in _data(4))
    out = layer([q, v])
    clone = deserialize_layer(serialize_layer(layer))
    clone.set_weights(layer.get_weights())
    torch.testing.assert_close(clone([q, v]), out)
    assert layer.compute_output_shape([(None, TQ, D), (None, TV, 7)]) == (None, TQ, 7)


def test_errors_name_the_argument() -> None:
    expected = r"score_mode='general' is not valid: expected one of 'dot', 'concat'"
    with pytest.raises(ConfigError, match=expected):
        rk.Attention(score_mode="general")
    with pytest.raises(ConfigError, match=r"dropout=1.5 is not valid"):
        rk.Attention(dropout=1.5)
    q = torch.zeros(B, TQ, D)
    with pytest.raises(ShapeError, match=r"inputs="):
        rk.Attention()([q])
    with pytest.raises(ShapeError, match=r"key=\(3, 4, 6\) is not valid: expected 5 steps"):
        rk.Attention()([q, torch.zeros(B, TV, D), torch.zeros(B, TQ, D)])
