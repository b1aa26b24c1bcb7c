"""ONNX export: onnxruntime runs the exported graph and gives rnnkit's outputs within 1e-5.

Every model is checked at two batch sizes and two lengths from one exported file (the
axes are dynamic), with right-padded masks where the model has them.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from typer.testing import CliRunner

import rnnkit
from rnnkit import layers
from rnnkit.errors import ConfigError
from rnnkit.models import Model, Sequential

ATOL = 1e-5


def _ids(batch: int, length: int, seed: int) -> torch.Tensor:
    x = torch.randint(1, 30, (batch, length), generator=torch.Generator().manual_seed(seed))
    x[0, length // 2 :] = 0  # right padding, a different length per row
    if batch > 2:
        x[2, length - 1 :] = 0
    return x


def _check(model: Model, path, batches: list[list[torch.Tensor]]) -> None:
    model.eval()
    model.export(path)
    session = ort.InferenceSession(str(path))
    names = [i.name for i in session.get_inputs()]
    for inputs in batches:
        got = session.run(None, {n: t.numpy() for n, t in zip(names, inputs, strict=True)})
        with torch.no_grad():
            expected = model(*inputs)
        expected = list(expected) if isinstance(expected, (list, tuple)) else [expected]
        for ours, theirs in zip(expected, got, strict=True):
            np.testing.assert_allclose(theirs, ours.numpy(), atol=ATOL, rtol=0)


def _floats(batch: int, length: int, dim: int, seed: int) -> torch.Tensor:
    return torch.randn(batch, length, dim, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU"])
def test_each_cell_alone_and_stacked(tmp_path, cell):
    rnn = getattr(layers, cell)
    model = Sequential(
        [
            rnnkit.Input(shape=(None, 3)),
            rnn(5, return_sequences=True),
            rnn(4),
            layers.Dense(2, activation="tanh"),
        ]
    )
    _check(model, tmp_path / "m.onnx", [[_floats(2, 6, 3, 0)], [_floats(5, 11, 3, 1)]])


def test_gru_paper_variant_and_bidirectional_merges(tmp_path):
    for merge in ("concat", "sum", "mul", "ave"):
        model = Sequential(
            [
                rnnkit.Input(shape=(None, 3)),
                layers.GRU(4, reset_after=False, return_sequences=True),
                layers.Bidirectional(layers.LSTM(3, return_sequences=True), merge_mode=merge),
                layers.Bidirectional(layers.SimpleRNN(2)),
            ]
        )
        _check(model, tmp_path / f"{merge}.onnx", [[_floats(2, 5, 3, 2)], [_floats(3, 8, 3, 3)]])


@pytest.mark.parametrize("pool", ["GlobalMaxPooling1D", "GlobalAveragePooling1D", None])
def test_masks_from_embedding_are_sequence_lengths(tmp_path, pool):
    stack = [
        layers.Embedding(30, 4, mask_zero=True),
        layers.Bidirectional(layers.GRU(5, return_sequences=True)),
        layers.LSTM(3, return_sequences=True),  # masked steps carry the last output: reproduced
    ]
    stack += [getattr(layers, pool)(), layers.Dense(2, activation="softmax")] if pool else []
    model = Sequential(stack)
    model(_ids(2, 6, 0))
    _check(model, tmp_path / "m.onnx", [[_ids(3, 7, 1)], [_ids(4, 12, 2)]])


def test_masking_layer(tmp_path):
    model = Sequential([rnnkit.Input(shape=(None, 2)), layers.Masking(0.0), layers.LSTM(3)])
    x = _floats(3, 6, 2, 4)
    x[1, 4:] = 0.0
    _check(model, tmp_path / "m.onnx", [[x]])


def test_functional_seq2seq_with_initial_state_and_two_outputs(tmp_path):
    enc = rnnkit.Input(shape=(None, 3))
    _, h, c = layers.LSTM(4, return_state=True)(enc)
    dec = rnnkit.Input(shape=(None, 2))
    seq, h2, _ = layers.LSTM(4, return_sequences=True, return_state=True)(dec, initial_state=[h, c])
    model = Model([enc, dec], [layers.Dense(5)(seq), h2])
    _check(
        model,
        tmp_path / "m.onnx",
        [[_floats(2, 5, 3, 5), _floats(2, 3, 2, 6)], [_floats(4, 9, 3, 7), _floats(4, 6, 2, 8)]],
    )
    graph = onnx.load(tmp_path / "m.onnx").graph
    assert [n.op_type for n in graph.node].count("LSTM") == 2
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_what_onnx_cannot_hold_is_refused(tmp_path):
    for bad, reason in (
        (layers.LSTM(3, layer_norm=True), "layer_norm"),
        (layers.GRU(3, go_backwards=True), "go_backwards"),
    ):
        model = Sequential([rnnkit.Input(shape=(4, 2)), bad])
        with pytest.raises(ConfigError, match=reason):
            model.export(tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()
    with pytest.raises(ConfigError, match="format"):
        Sequential([rnnkit.Input(shape=(4, 2)), layers.LSTM(3)]).export(
            tmp_path / "x.tf", format="tf_saved_model"
        )


def test_cli_export_of_a_model_file(tmp_path):
    import typer

    from rnnkit.cli.export import export

    model = Sequential([layers.Embedding(30, 4, mask_zero=True), layers.GRU(3), layers.Dense(2)])
    model(_ids(2, 5, 0))
    model.save(tmp_path / "m.safetensors")
    app = typer.Typer()
    app.command()(export)
    result = CliRunner().invoke(app, [str(tmp_path / "m.safetensors"), "--output", str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.output
    x = _ids(3, 7, 3)
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, model.predict(x.numpy(), verbose=0), atol=ATOL)
    bad = CliRunner().invoke(app, [str(tmp_path / "m.safetensors"), "--output", str(tmp_path / "m.txt")])
    assert isinstance(bad.exception, ConfigError) and "ending in .onnx" in str(bad.exception)


class _Classifier(Model):
    """A subclassed model as the tasks write them: layers in __init__, torch between them."""

    def __init__(self, vocab: int = 30, units: int = 4, horizon: int = 3):
        super().__init__()
        self.horizon = horizon
        self.embedding = layers.Embedding(vocab, 5, mask_zero=True)
        self.rnns = torch.nn.ModuleList([layers.Bidirectional(layers.GRU(units, return_sequences=True))])
        self.max_pool, self.mean_pool = layers.GlobalMaxPooling1D(), layers.GlobalAveragePooling1D()
        self.head = layers.Dense(2 * horizon)

    def forward(self, ids, training=None):
        h = self.embedding(ids)
        for rnn in self.rnns:
            h = rnn(h)
        h = torch.cat([self.max_pool(h), self.mean_pool(h)], dim=-1)
        out = self.head(torch.tanh(h) + h)
        return out.reshape(ids.shape[0], self.horizon, 2)


def test_subclassed_model_traced_with_layers_as_leaves(tmp_path):
    model = _Classifier()
    model(_ids(2, 6, 0))
    _check(model, tmp_path / "m.onnx", [[_ids(3, 7, 1)], [_ids(5, 10, 2)]])

    class Branchy(_Classifier):
        def forward(self, ids, training=None):
            h = self.embedding(ids)
            return self.head(self.max_pool(h)) if h.sum() > 0 else self.head(self.mean_pool(h))

    branchy = Branchy()
    branchy(_ids(2, 6, 0))
    with pytest.raises(ConfigError, match=r"Branchy\.forward cannot be traced for ONNX export"):
        branchy.export(tmp_path / "b.onnx")


def test_subclassed_forward_with_an_untranslated_torch_call_is_refused_by_name(tmp_path):
    # The module docstring's promise: other torch functions (and tensor methods) are refused with the reason.
    class Exp(_Classifier):
        def forward(self, ids, training=None):
            return torch.exp(self.head(self.max_pool(self.embedding(ids))))

    class ExpMethod(_Classifier):
        def forward(self, ids, training=None):
            return self.head(self.max_pool(self.embedding(ids))).exp()

    for model, what in ((Exp(), "function"), (ExpMethod(), "tensor method")):
        model(_ids(2, 6, 0))
        with pytest.raises(ConfigError, match=rf"^{what} in forward='exp' is not valid: expected "):
            model.export(tmp_path / "e.onnx")


def test_a_model_used_as_a_layer(tmp_path):
    encoder = Sequential([layers.Embedding(30, 4, mask_zero=True), layers.GRU(3)])
    ids = rnnkit.Input(shape=(None,), dtype="int64")
    model = Model(ids, layers.Dense(2)(encoder(ids)))
    _check(model, tmp_path / "m.onnx", [[_ids(3, 7, 1)], [_ids(2, 4, 2)]])
