"""Stateful training in chunks (TBPTT): state carried and detached, per-sample resets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit import Sequential, layers, set_seed
from rnnkit.losses import SparseCategoricalCrossentropy
from rnnkit.models.tbptt import TBPTT, streams_to_array


def _lm(stateful: bool, vocab: int = 5) -> Sequential:
    return Sequential(
        [
            layers.Embedding(vocab, 4),
            layers.LSTM(8, stateful=stateful, return_sequences=True),
            layers.Dense(vocab),
        ]
    )


def test_chunks_with_carried_state_equal_one_pass_over_the_whole_stream() -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 5, size=(3, 23))
    stateful, plain = _lm(True), _lm(False)
    plain(torch.from_numpy(ids))
    stateful(torch.from_numpy(ids[:, :1]))
    stateful.load_state_dict(plain.state_dict())
    chunked = streams_to_array(stateful.predict(TBPTT(ids, chunk_len=5)), n_streams=3)
    np.testing.assert_allclose(chunked, plain.predict(ids), atol=1e-5)


def test_from_tokens_lays_out_next_token_targets() -> None:
    tb = TBPTT.from_tokens(np.arange(26), batch_size=4, chunk_len=2)
    x, y, w = next(iter(tb))
    assert x.tolist() == [[0, 1], [6, 7], [12, 13], [18, 19]] and y.tolist() == [
        [1, 2],
        [7, 8],
        [13, 14],
        [19, 20],
    ]
    assert w is None and len(tb) == 3  # 5 steps per stream, chunks of 2


@pytest.mark.slow
def test_carried_state_lets_the_model_see_across_chunk_edges() -> None:
    # Target: the previous token. At the first step of a chunk that token is in the previous
    # chunk, so only a carried state can know it; resetting every chunk leaves it at chance.
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 2, size=4 * 301)
    k = 6

    def first_step_accuracy(reset_every_chunk: bool) -> float:
        set_seed(0)
        model = _lm(True, vocab=2)
        model.compile(optimizer="adam", loss=SparseCategoricalCrossentropy(from_logits=True))
        model.optimizer.lr = 0.02
        cols = ids.reshape(4, -1)
        x, y = cols[:, 1:], cols[:, :-1]
        resets = {c: list(range(4)) for c in range(300 // k)} if reset_every_chunk else None
        model.fit(TBPTT(x, y, k, resets=resets), epochs=4, verbose=0)
        pred = streams_to_array(model.predict(TBPTT(x, y, k, resets=resets)), 4).argmax(-1)
        edges = np.arange(k, 300, k)  # first steps of chunks 1..
        return float((pred[:, edges] == y[:, edges]).mean())

    assert first_step_accuracy(reset_every_chunk=False) > 0.95
    assert first_step_accuracy(reset_every_chunk=True) < 0.7


def test_from_sequences_resets_each_stream_where_a_new_sequence_starts() -> None:
    rng = np.random.default_rng(1)
    seqs = [rng.integers(1, 5, size=n) for n in (7, 3, 9, 4, 5)]
    tb = TBPTT.from_sequences(seqs, seqs, batch_size=2, chunk_len=4)
    model = _lm(True)
    model(torch.zeros(2, 1, dtype=torch.long))
    out = streams_to_array(model.predict(tb), n_streams=2)
    # Each sequence, wherever it landed, predicts as if run alone from a zero state.
    alone = _lm(False)
    alone(torch.zeros(1, 1, dtype=torch.long))
    alone.load_state_dict(model.state_dict())
    w = tb.sample_weight.numpy()
    found = 0
    for s in seqs:
        expect = alone.predict(s[None])[0]
        for b in range(2):
            for start in range(0, w.shape[1], 4):
                if np.array_equal(tb.x[b, start : start + len(s)].numpy(), s) and w[b, start] == 1:
                    np.testing.assert_allclose(out[b, start : start + len(s)], expect, atol=1e-5)
                    found += 1
                    break
    assert found == len(seqs)
    # and training on it works with the padding weighted out
    model.compile(optimizer="adam", loss=SparseCategoricalCrossentropy(from_logits=True))
    assert np.isfinite(model.fit(tb, epochs=1, verbose=0).history["loss"][0])
