"""Greedy and beam search over a step function: the invariants and an exhaustive oracle.

The toy decoder is a small random RNN, so a token's probability depends on the whole
prefix through the state: a beam that reorders its state rows wrongly decodes other
sentences than the exhaustive search finds.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.models.search import (
    Hypothesis,
    beam_search,
    greedy_search,
    length_penalty_factor,
    repeat_rows,
    select_rows,
)

BOS, EOS = 0, 1


class ToyDecoder:
    """h' = tanh(W h + E[token]); log p = log_softmax(U h' * sharp). State: {"h": (N, H), "id": (N,)}."""

    def __init__(self, vocab: int = 6, hidden: int = 8, seed: int = 0, sharp: float = 2.0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.W = torch.randn(hidden, hidden, generator=g) / math.sqrt(hidden)
        self.E = torch.randn(vocab, hidden, generator=g)
        self.U = torch.randn(vocab, hidden, generator=g) * sharp
        self.H = hidden
        self.calls = 0

    def init(self, n: int, seed: int = 1) -> dict:
        g = torch.Generator().manual_seed(seed)
        return {"h": torch.randn(n, self.H, generator=g), "id": torch.arange(n)}

    def step(self, tokens: torch.Tensor, state: dict):  # type: ignore[no-untyped-def]
        self.calls += 1
        h = torch.tanh(state["h"] @ self.W.T + self.E[tokens])
        lp = torch.log_softmax(h @ self.U.T, dim=-1)
        return lp, {"h": h, "id": state["id"]}, torch.stack([state["id"].float(), h[:, 0]], dim=1)


def _rows(state: dict, idx: list[int]) -> dict:
    return select_rows(state, torch.tensor(idx))


@pytest.mark.parametrize("seed", range(6))
def test_beam_one_equals_greedy(seed: int) -> None:
    dec = ToyDecoder(seed=seed)
    n = 7
    greedy = greedy_search(dec.step, dec.init(n, seed), batch_size=n, bos=BOS, eos=EOS, max_len=12)
    beam = beam_search(
        dec.step, dec.init(n, seed), batch_size=n, bos=BOS, eos=EOS, beam=1, max_len=12, length_penalty=0.0
    )
    for g, (b,) in zip(greedy, beam, strict=True):
        assert g.tokens == b.tokens
        assert g.log_prob == pytest.approx(b.log_prob, abs=1e-9)
        assert g.finished == b.finished
        assert len(g.extras) == len(b.extras) == len(g.tokens)
        for x, y in zip(g.extras, b.extras, strict=True):
            torch.testing.assert_close(x, y)


@pytest.mark.parametrize("seed", range(4))
def test_top_of_nbest_is_the_beam_result(seed: int) -> None:
    dec = ToyDecoder(seed=seed)
    kw = dict(batch_size=5, bos=BOS, eos=EOS, beam=4, max_len=10)
    one = beam_search(dec.step, dec.init(5, seed), **kw)
    many = beam_search(dec.step, dec.init(5, seed), nbest=4, **kw)
    for (a,), b in zip(one, many, strict=True):
        assert b[0].tokens == a.tokens and b[0].score == a.score
        assert [h.score for h in b] == sorted((h.score for h in b), reverse=True)
        assert len({tuple(h.tokens) for h in b}) == len(b)  # distinct hypotheses


@pytest.mark.parametrize("beam", [1, 3, 5])
def test_one_sentence_alone_equals_inside_a_batch(beam: int) -> None:
    dec = ToyDecoder(seed=3)
    full = dec.init(6, seed=9)
    lens = [3, 12, 8, 1, 12, 5]
    batch = beam_search(dec.step, full, batch_size=6, bos=BOS, eos=EOS, beam=beam, max_len=lens, nbest=beam)
    gbatch = greedy_search(dec.step, full, batch_size=6, bos=BOS, eos=EOS, max_len=lens)
    for i in range(6):
        alone = beam_search(
            dec.step, _rows(full, [i]), batch_size=1, bos=BOS, eos=EOS, beam=beam, max_len=lens[i], nbest=beam
        )[0]
        assert [h.tokens for h in alone] == [h.tokens for h in batch[i]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in batch[i]], abs=1e-6)
        assert all(h.extras[0][0] == i for h in batch[i] if h.tokens)  # extras follow their sentence
        g = greedy_search(dec.step, _rows(full, [i]), batch_size=1, bos=BOS, eos=EOS, max_len=lens[i])[0]
        assert g.tokens == gbatch[i].tokens
        assert len(g.tokens) <= lens[i]


def _exhaustive(dec: ToyDecoder, state: dict, max_len: int, vocab: int) -> list[tuple[float, list[int]]]:
    """Every hypothesis (ended by EOS, or cut at max_len) with its log-probability, by enumeration."""
    out: list[tuple[float, list[int]]] = []

    def walk(prefix: list[int], st: dict, tok: int, lp_sum: float) -> None:
        lp, st, _ = dec.step(torch.tensor([tok]), st)
        for v in range(vocab):
            total = lp_sum + float(lp[0, v])
            if v == EOS:
                out.append((total, list(prefix)))
            elif len(prefix) + 1 >= max_len:
                out.append((total, [*prefix, v]))
            elif v != BOS:
                walk([*prefix, v], st, v, total)
            else:  # BOS as an output token: allowed, it is just a token
                walk([*prefix, v], st, v, total)

    walk([], state, BOS, 0.0)
    return out


@pytest.mark.parametrize("seed", range(3))
def test_wide_beam_finds_the_exhaustive_best(seed: int) -> None:
    V, L = 3, 4
    dec = ToyDecoder(vocab=V, seed=seed, sharp=0.7)
    st = dec.init(1, seed)
    every = _exhaustive(dec, st, L, V)
    best_lp, best_tokens = max(every, key=lambda p: p[0])
    (found,) = beam_search(
        dec.step, st, batch_size=1, bos=BOS, eos=EOS, beam=len(every), max_len=L, length_penalty=0.0
    )[0:1]
    assert found[0].tokens == best_tokens
    assert found[0].log_prob == pytest.approx(best_lp, abs=1e-5)
    g = greedy_search(dec.step, st, batch_size=1, bos=BOS, eos=EOS, max_len=L)[0]
    assert g.log_prob <= best_lp + 1e-5
    # and every hypothesis beam search reports has the log-probability enumeration gives it
    table = {tuple(t): lp for lp, t in every}
    allh = beam_search(
        dec.step, st, batch_size=1, bos=BOS, eos=EOS, beam=len(every), max_len=L, nbest=len(every)
    )[0]
    for h in allh:
        assert h.log_prob == pytest.approx(table[tuple(h.tokens)], abs=1e-5)


def test_length_penalty_ranks_by_normalized_score() -> None:
    assert length_penalty_factor(7, 0.0) == 1.0
    assert length_penalty_factor(7, 1.0) == pytest.approx(2.0)
    dec = ToyDecoder(seed=5)
    hyps = beam_search(
        dec.step, dec.init(2), batch_size=2, bos=BOS, eos=EOS, beam=4, max_len=9, length_penalty=1.0, nbest=4
    )
    for hs in hyps:
        for h in hs:
            n = len(h.tokens) + (1 if h.finished else 0)
            assert h.score == pytest.approx(h.log_prob / ((5 + n) / 6))


def test_state_helpers_keep_structure() -> None:
    st = {"a": (torch.arange(3), [torch.arange(6).reshape(3, 2)]), "k": None}
    rep = repeat_rows(st, 2)
    assert rep["a"][0].tolist() == [0, 0, 1, 1, 2, 2] and rep["k"] is None
    sel = select_rows(rep, torch.tensor([5, 0]))
    assert sel["a"][1][0].tolist() == [[4, 5], [0, 1]]
    assert isinstance(sel["a"], tuple) and isinstance(sel["a"][1], list)


def test_bad_arguments() -> None:
    dec = ToyDecoder()
    with pytest.raises(ConfigError, match=r"beam=0 is not valid: expected a positive integer"):
        beam_search(dec.step, dec.init(1), batch_size=1, bos=BOS, eos=EOS, beam=0, max_len=3)
    with pytest.raises(ConfigError, match=r"nbest=3 is not valid: expected an integer in \[1, beam=2\]"):
        beam_search(dec.step, dec.init(1), batch_size=1, bos=BOS, eos=EOS, beam=2, max_len=3, nbest=3)
    with pytest.raises(ConfigError, match=r"max_len=\[3\] is not valid"):
        greedy_search(dec.step, dec.init(2), batch_size=2, bos=BOS, eos=EOS, max_len=[3])
    with pytest.raises(ShapeError, match=r"step's log_probs"):
        greedy_search(
            lambda t, s: (torch.zeros(5), s, None), dec.init(2), batch_size=2, bos=0, eos=1, max_len=3
        )
    assert isinstance(Hypothesis([1], 0.0, 0.0), Hypothesis)


def test_finished_sentences_leave_the_batch() -> None:
    """The step sees fewer rows once sentences end: no work for finished ones."""
    dec = ToyDecoder(seed=2)
    seen: list[int] = []

    def step(tokens, state):  # type: ignore[no-untyped-def]
        seen.append(tokens.shape[0])
        return dec.step(tokens, state)

    greedy_search(step, dec.init(4), batch_size=4, bos=BOS, eos=EOS, max_len=[1, 2, 3, 4])
    assert seen == [4, 3, 2, 1]
    seen.clear()
    beam_search(step, dec.init(3), batch_size=3, bos=BOS, eos=EOS, beam=2, max_len=[1, 2, 3])
    assert seen == [6, 4, 2]
    assert list(itertools.accumulate(seen))[-1] == 12
