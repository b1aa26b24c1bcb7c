"""n-gram baselines (add-k smoothing) and the models' exact NLL on a split.

An order-n model predicts a token from the n-1 before it (sequence starts padded with a
start symbol), smoothed by adding ``k`` to every count over the vocabulary V:

    p(w | c) = (count(c, w) + k) / (count(c) + k V)

``k`` is chosen on the validation split from :data:`K_GRID` and the figure reported is
on the test split. Add-k alone over-smooths sparse trigram contexts (a trigram then scores
worse than a bigram), so the stronger baseline reported beside it interpolates the orders
(Jelinek-Mercer, weights chosen on validation from a 0.05 simplex grid):

    p(w | c) = l3 p_ML(w | w-2 w-1) + l2 p_ML(w | w-1) + l1 p_add-k(w)
 The vocabulary is every token of every split (as the dataset's), so no
test token has zero probability.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any

import torch

from rnnkit.tasks.music.data import DURATIONS, PieceBatches, grid_tokens
from rnnkit.tasks.music.theory import VOICES, Piece

K_GRID = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)
_START = ("<s>",)


def _counts(seqs: Sequence[Sequence[Hashable]], order: int) -> tuple[Counter[Any], Counter[Any]]:
    joint: Counter[Any] = Counter()
    ctx: Counter[Any] = Counter()
    for seq in seqs:
        padded = list(_START * (order - 1)) + list(seq)
        for i in range(order - 1, len(padded)):
            c = tuple(padded[i - order + 1 : i])
            joint[c, padded[i]] += 1
            ctx[c] += 1
    return joint, ctx


def _nll(
    counts: tuple[Counter[Any], Counter[Any]],
    seqs: Sequence[Sequence[Hashable]],
    order: int,
    k: float,
    vocab: int,
) -> tuple[float, int]:
    joint, ctx = counts
    total, n = 0.0, 0
    for seq in seqs:
        padded = list(_START * (order - 1)) + list(seq)
        for i in range(order - 1, len(padded)):
            c = tuple(padded[i - order + 1 : i])
            total -= math.log((joint[c, padded[i]] + k) / (ctx[c] + k * vocab))
            n += 1
    return total, n


def ngram_nll(
    train: Sequence[Sequence[Hashable]],
    validation: Sequence[Sequence[Hashable]],
    test: Sequence[Sequence[Hashable]],
    order: int,
) -> dict[str, float]:
    """Test NLL per token (nats) of an add-k order-``order`` model, k tuned on validation."""
    vocab = len({t for split in (train, validation, test) for s in split for t in s})
    counts = _counts(train, order)
    best = min(K_GRID, key=lambda k: _nll(counts, validation, order, k, vocab)[0])
    total, n = _nll(counts, test, order, best, vocab)
    return {"nll": total / n, "k": best, "tokens": n, "vocabulary": vocab}


def interpolated_nll(
    train: Sequence[Sequence[Hashable]],
    validation: Sequence[Sequence[Hashable]],
    test: Sequence[Sequence[Hashable]],
    order: int = 3,
) -> dict[str, Any]:
    """Test NLL per token of the Jelinek-Mercer interpolation of orders 1..``order``."""
    vocab = len({t for split in (train, validation, test) for s in split for t in s})
    counts = [_counts(train, o) for o in range(1, order + 1)]
    k = ngram_nll(train, validation, test, 1)["k"]

    def probs(seqs: Sequence[Sequence[Hashable]]) -> list[list[float]]:
        """Per token, the order-1..n probabilities (unigram add-k, the others maximum likelihood)."""
        rows = []
        for seq in seqs:
            padded = list(_START * (order - 1)) + list(seq)
            for i in range(order - 1, len(padded)):
                row = []
                for o, (joint, ctx) in enumerate(counts, start=1):
                    c = tuple(padded[i - o + 1 : i])
                    if o == 1:
                        row.append((joint[c, padded[i]] + k) / (ctx[c] + k * vocab))
                    else:
                        row.append(joint[c, padded[i]] / ctx[c] if ctx[c] else 0.0)
                rows.append(row)
        return rows

    grid = [w for w in _simplex(order, 20) if w[0] > 0]  # the unigram weight keeps p > 0
    val = probs(validation)

    def nll(rows: list[list[float]], w: tuple[float, ...]) -> float:
        return -sum(math.log(sum(a * b for a, b in zip(w, r, strict=True))) for r in rows)

    best = min(grid, key=lambda w: nll(val, w))
    rows = probs(test)
    return {"nll": nll(rows, best) / len(rows), "weights": list(best), "k": k, "tokens": len(rows)}


def _simplex(n: int, steps: int) -> list[tuple[float, ...]]:
    """All n-tuples of multiples of 1/steps that sum to 1."""
    return [tuple(c / steps for c in combo) for combo in _compositions(n, steps)]


def _compositions(n: int, total: int) -> list[tuple[int, ...]]:
    if n == 1:
        return [(total,)]
    return [(i, *rest) for i in range(total + 1) for rest in _compositions(n - 1, total - i)]


def melody_tokens(piece: Piece) -> list[tuple[int, float]]:
    """The soprano as (MIDI pitch, duration) tokens, the melody model's own alphabet."""
    return [
        (p, DURATIONS[min(range(len(DURATIONS)), key=lambda i: abs(DURATIONS[i] - d))])
        for p, d in piece.voices[0]
    ]


def melody_baselines(splits: dict[str, list[Piece]], orders: Sequence[int] = (1, 2, 3)) -> dict[str, Any]:
    seqs = {name: [melody_tokens(p) for p in pieces] for name, pieces in splits.items()}
    names = {1: "unigram", 2: "bigram", 3: "trigram", 4: "4-gram"}
    out: dict[str, Any] = {
        names[o]: ngram_nll(seqs["train"], seqs["validation"], seqs["test"], o) for o in orders
    }
    out["interpolated trigram"] = interpolated_nll(seqs["train"], seqs["validation"], seqs["test"], 3)
    return out


def grid_baselines(splits: dict[str, list[Piece]], orders: Sequence[int] = (1, 2, 3)) -> dict[str, Any]:
    """Per voice n-grams over its own grid tokens (voices independent); per step = their sum."""
    toks = {name: [grid_tokens(p)[0] for p in pieces] for name, pieces in splits.items()}
    # each voice's (train, validation, test) token lists, made once for every estimator
    voice_seqs = {
        voice: [[t[:, v].tolist() for t in toks[s]] for s in ("train", "validation", "test")]
        for v, voice in enumerate(VOICES)
    }
    names = {1: "unigram", 2: "bigram", 3: "trigram", 4: "4-gram"}
    estimators: dict[str, Any] = {names[o]: lambda tr, va, te, o=o: ngram_nll(tr, va, te, o) for o in orders}
    estimators["interpolated trigram"] = lambda tr, va, te: interpolated_nll(tr, va, te, 3)
    out: dict[str, Any] = {}
    for name, nll in estimators.items():
        per_voice = {voice: nll(*seqs)["nll"] for voice, seqs in voice_seqs.items()}
        out[name] = {"per_step": sum(per_voice.values()), "per_voice": per_voice}
    return out


@torch.no_grad()
def model_nll(model: Any, pieces: list[Piece], voices: int, batch_size: int = 16) -> dict[str, Any]:
    """Exact NLL of ``pieces`` (in their written keys) under ``model``, in nats:
    per note (melody: pitch and duration parts too) or per grid step (and per voice)."""
    model.eval()
    sums = torch.zeros(voices if voices > 1 else 2, dtype=torch.float64)
    count = 0
    for x, y in PieceBatches(pieces, voices, batch_size):
        out = model(*x)
        if voices == 1:
            (lp, ld), (tp, td) = out, y
            for i, (logits, target) in enumerate(((lp, tp), (ld, td))):
                sums[i] += torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-1, reduction="sum"
                ).double()
            count += int((tp >= 0).sum())
        else:
            for v in range(voices):
                logits, target = out[:, :, v], y[:, :, v]
                sums[v] += torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-1, reduction="sum"
                ).double()
            count += int((y[:, :, 0] >= 0).sum())
    per = (sums / max(count, 1)).tolist()
    if voices == 1:
        return {"nll_per_note": per[0] + per[1], "pitch": per[0], "duration": per[1], "notes": count}
    return {"nll_per_step": sum(per), "per_voice": dict(zip(VOICES, per, strict=True)), "steps": count}
