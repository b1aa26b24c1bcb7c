"""Per-layer checks through one harness: shapes, weights, config round-trip, a training step."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch
from tests.helpers import right_padded_mask

from rnnkit import layers
from rnnkit.layers.base import deserialize_layer, serialize_layer


def check_layer(
    layer: layers.Layer,
    input_shape: tuple[int, ...],
    expected_output_shape: Any,
    expected_num_params: int | None = None,
    *,
    int_inputs: int | None = None,
) -> None:
    """Build and call ``layer``; check shapes, param count, config round-trip and that it trains."""
    x = torch.randint(0, int_inputs, input_shape) if int_inputs else torch.randn(*input_shape)
    y = layer(x)
    shapes = tuple(t.shape for t in y) if isinstance(y, tuple) else y.shape
    assert shapes == expected_output_shape
    if expected_num_params is not None:
        assert layer.count_params() == expected_num_params
    # compute_output_shape agrees with what ran (None batch allowed).
    declared = layer.compute_output_shape(tuple(input_shape))
    declared = declared if isinstance(y, tuple) else (declared,)
    actual = shapes if isinstance(y, tuple) else (shapes,)
    assert [tuple(d) for d in declared] == [tuple(a) for a in actual]
    # Config round-trip: same class, same config, same outputs after loading the weights.
    twin = deserialize_layer(serialize_layer(layer))
    assert type(twin) is type(layer) and twin.get_config()["name"] == layer.get_config()["name"]
    twin.load_state_dict(layer.state_dict())
    layer.eval()
    twin.eval()
    a, b = layer(x), twin(x)
    for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,), strict=True):
        torch.testing.assert_close(u, v)

    # Training steps lower a simple loss (measured at inference, so dropout noise cannot hide it).
    def loss_of(training: bool) -> torch.Tensor:
        out = layer(x, training=training)
        return (out[0] if isinstance(out, tuple) else out).square().mean()

    params = [p for p in layer.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.05)
    before = loss_of(False).item()
    for _ in range(3):
        opt.zero_grad()
        loss_of(True).backward()
        opt.step()
    assert loss_of(False).item() < before


B, T, D, H = 2, 5, 3, 4


@pytest.mark.parametrize(
    ("make", "shape", "params"),
    [
        (lambda: layers.SimpleRNN(H), (B, H), H * D + H * H + 2 * H),
        (lambda: layers.SimpleRNN(H, return_sequences=True), (B, T, H), None),
        (lambda: layers.LSTM(H, return_state=True), ((B, H), (B, H), (B, H)), 4 * H * (D + H + 2)),
        (
            lambda: layers.GRU(H, return_sequences=True, return_state=True),
            ((B, T, H), (B, H)),
            3 * H * (D + H + 2),
        ),
        (lambda: layers.GRU(H, reset_after=False), (B, H), None),
        (lambda: layers.LSTM(H, layer_norm=True), (B, H), 4 * H * (D + H + 2) + 4 * 4 * H + 2 * H),
        (lambda: layers.GRU(H, layer_norm=True, zoneout=0.1), (B, H), None),
        (lambda: layers.LSTM(H, go_backwards=True, dropout=0.2, recurrent_dropout=0.2), (B, H), None),
        (lambda: layers.RNN([layers.LSTMCell(H), layers.GRUCell(3)], return_sequences=True), (B, T, 3), None),
        (lambda: layers.Bidirectional(layers.LSTM(H, return_sequences=True)), (B, T, 2 * H), None),
        (lambda: layers.Bidirectional(layers.GRU(H), merge_mode="sum"), (B, H), None),
        (
            lambda: layers.Bidirectional(layers.GRU(H, return_state=True), merge_mode=None),
            ((B, H), (B, H), (B, H), (B, H)),
            None,
        ),
        (lambda: layers.Dense(7, activation="relu"), (B, T, 7), D * 7 + 7),
        (lambda: layers.TimeDistributed(layers.Dense(2)), (B, T, 2), D * 2 + 2),
    ],
)
def test_layer(make, shape, params) -> None:
    check_layer(make(), (B, T, D), shape, params)


def test_embedding_mask_flows_into_lstm() -> None:
    ids = torch.tensor([[3, 5, 2, 0, 0], [1, 4, 0, 0, 0]])
    emb = layers.Embedding(10, D, mask_zero=True)
    check_layer(layers.Embedding(10, D), (B, T), (B, T, D), 10 * D, int_inputs=10)
    lstm = layers.LSTM(H, return_sequences=True)
    h = emb(ids)
    assert torch.equal(h._keras_mask, ids != 0)
    out = lstm(h)  # mask read off the tensor, as in Keras
    explicit = lstm(h.detach().clone(), mask=ids != 0)
    torch.testing.assert_close(out, explicit)
    # padded steps repeat the last real output (Keras's zero_output_for_mask=False)
    torch.testing.assert_close(out[0, 3], out[0, 2])
    assert torch.equal(out._keras_mask, ids != 0)


def test_masked_steps_carry_state_for_holes() -> None:
    x = torch.randn(B, T, D)
    mask = torch.tensor([[True, False, True, False, True], [True, True, True, True, True]])
    lstm = layers.LSTM(H, return_state=True)
    _, h, c = lstm(x, mask=mask)
    _, h2, c2 = lstm(x[:1, [0, 2, 4]])  # the same sequence with the holes removed
    torch.testing.assert_close(h[:1], h2)
    torch.testing.assert_close(c[:1], c2)


def test_stateful_carries_detached_state_and_resets_per_sample() -> None:
    x = torch.randn(B, T, D)
    lstm = layers.GRU(H, stateful=True)
    plain = layers.GRU(H)
    plain.build(x.shape)
    lstm.build(x.shape)
    plain.load_state_dict(lstm.state_dict())
    y1 = lstm(x)
    y2 = lstm(x)
    expected = plain(x, initial_state=[y1])
    torch.testing.assert_close(y2, expected)
    assert not lstm.states[0].requires_grad
    lstm.reset_states(indices=[1])
    assert torch.count_nonzero(lstm.states[0][1]) == 0
    assert torch.count_nonzero(lstm.states[0][0]) > 0
    lstm.reset_states()
    torch.testing.assert_close(lstm(x), plain(x))


def test_dropout_mask_is_the_same_at_every_step() -> None:
    # With recurrent weights zeroed and no bias, h_t = tanh(W (x_t * m)): a zero in the input
    # mask must silence the same input feature at every step.
    layer = layers.SimpleRNN(H, dropout=0.5, use_bias=False, return_sequences=True, seed=3)
    x = torch.ones(1, T, D)
    layer.build(x.shape)
    with torch.no_grad():
        layer.cell.weight_hh.zero_()
        layer.cell.weight_ih.copy_(torch.eye(H, D))
    out = layer(x, training=True)
    assert torch.equal(out[0, 0] == 0, out[0, -1] == 0)
    assert torch.allclose(out[0], out[0, :1].expand(T, H))
    torch.testing.assert_close(layer(x, training=False), torch.tanh(x @ torch.eye(H, D).T))


def test_seed_makes_dropout_reproducible() -> None:
    x = torch.randn(B, T, D)
    a = layers.LSTM(H, dropout=0.3, recurrent_dropout=0.3, seed=7)
    b = layers.LSTM(H, dropout=0.3, recurrent_dropout=0.3, seed=7)
    a.build(x.shape)
    b.build(x.shape)
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(a(x, training=True), b(x, training=True))


def test_zoneout_is_expectation_at_inference() -> None:
    x = torch.randn(B, T, D)
    z = layers.GRU(H, zoneout=0.3, return_sequences=True, use_fused=False)
    z(x)
    cell = z.cell
    h = torch.zeros(B, H)
    outs = []
    for t in range(T):
        new, _ = layers.GRUCell.call(cell, x[:, t], [h])
        outs.append(new)
        h = new
    torch.testing.assert_close(z(x, training=False), torch.stack(outs, 1))


def test_input_shape_builds_at_construction() -> None:
    lstm = layers.LSTM(H, input_shape=(T, D))
    assert lstm.built and lstm.count_params() == 4 * H * (D + H + 2)
    torch.optim.Adam(lstm.parameters())  # an optimizer can be made before any call


def test_unit_forget_bias_and_keras_initial_biases() -> None:
    lstm = layers.LSTM(H)
    lstm.build((None, T, D))
    expected = torch.zeros(4 * H)
    expected[H : 2 * H] = 1.0
    torch.testing.assert_close(lstm.cell.bias_ih.detach(), expected)
    torch.testing.assert_close(lstm.cell.bias_hh.detach(), torch.zeros(4 * H))
    w = lstm.cell.weight_hh.detach()  # orthogonal (4H, H): orthonormal columns
    torch.testing.assert_close(w.T @ w, torch.eye(H), atol=1e-5, rtol=0)


def test_masks_of_every_padding_give_the_same_last_state_as_trimming() -> None:
    x = torch.randn(3, T, D)
    lengths = [5, 2, 4]
    for layer in (layers.LSTM(H, return_state=True), layers.GRU(H, return_state=True)):
        right = right_padded_mask(lengths, T)
        _, *states = layer(x, mask=right)
        for b, n in enumerate(lengths):
            _, *ref = layer(x[b : b + 1, :n])
            for s, r in zip(states, ref, strict=True):
                torch.testing.assert_close(s[b : b + 1], r, atol=1e-6, rtol=1e-5)


def test_regularizers_and_constraints() -> None:
    layer = layers.LSTM(H, kernel_regularizer="l2", recurrent_constraint="non_neg")
    layer.build((None, T, D))
    expected = 0.01 * layer.cell.weight_ih.square().sum()
    torch.testing.assert_close(layer.regularization_loss(), expected)
    layer.apply_constraints()
    assert (layer.cell.weight_hh >= 0).all()


@pytest.mark.parametrize(
    "layer",
    [layers.SimpleRNN(3), layers.LSTM(3), layers.GRU(3), layers.ConvLSTM2D(2, 3)],
    ids=lambda layer: type(layer).__name__,
)
def test_every_cell_argument_reads_on_the_layer_as_keras(layer):
    # FlatRNN's promise: the cell's settings read through the layer (lstm.units, lstm.kernel_regularizer)
    names = inspect.signature(type(layer.cell)).parameters.keys() - {"kwargs", "rank"}
    assert names and names <= layer.cell_attrs
    for name in names:
        assert getattr(layer, name) is getattr(layer.cell, name)
    with pytest.raises(AttributeError):
        layer.not_a_cell_argument  # noqa: B018
