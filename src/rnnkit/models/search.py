"""Decoding a sequence from a step function: greedy search and batched beam search.

Shared by every encoder-decoder task (translation, captioning). The model is seen only
through a step function, so the encoder runs once and its output rides in the state::

    step(tokens (N,), state) -> (log_probs (N, V), new_state, extra (N, ...) or None)

``state`` is a tensor or a nested tuple / list / dict of tensors, each with N rows in dim 0
(decoder h and c, the encoder's outputs and mask ...). Beam search repeats every row ``beam``
times and reorders rows with ``index_select`` as hypotheses fork and die; ``extra`` (e.g. the
attention row of the step) is kept per hypothesis, one row per output token.

Scores (Wu et al. 2016, GNMT, section 7): a hypothesis Y of |Y| scored steps (its tokens, plus
the end token when it ended) has ``log_prob = sum_t log p(y_t | y_<t, x)`` and
``score = log_prob / lp(Y)``, ``lp(Y) = ((5 + |Y|) / 6) ** alpha`` (alpha = ``length_penalty``;
0 ranks by log_prob alone). Beam search keeps, per sentence and step, the 2K best extensions,
finalizes the end-token ones among the first K and continues with the first K others; a
sentence stops once K hypotheses are final (fairseq's rule). With K = 1 this is exactly
greedy search, which is its own loop here so that the equality is a real test.

``max_len`` (an int, or one per sentence) bounds the output tokens, the end token excluded:
a hypothesis that reaches it stops there without one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rnnkit.errors import ConfigError, ShapeError, invalid

Tensor = torch.Tensor
State = Any  # a tensor or a nested tuple / list / dict of tensors, N rows in dim 0
Step = Callable[[Tensor, State], tuple[Tensor, State, Tensor | None]]

__all__ = [
    "Hypothesis",
    "State",
    "Step",
    "beam_search",
    "greedy_search",
    "length_penalty_factor",
    "map_state",
    "repeat_rows",
    "select_rows",
]


@dataclass
class Hypothesis:
    """One decoded sequence: ``tokens`` without the start and end tokens."""

    tokens: list[int]
    score: float  # log_prob / lp(length): what hypotheses are ranked by
    log_prob: float
    extras: list[Any] | None = None  # the step's extra row for each token (e.g. attention weights)
    finished: bool = True  # False when it stopped at max_len without the end token


# ------------------------------------------------------------------ state helpers
def map_state(fn: Callable[[Tensor], Tensor], state: State) -> State:
    """Apply ``fn`` to every tensor in a nested state, keeping its structure."""
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, dict):
        return {k: map_state(fn, v) for k, v in state.items()}
    if isinstance(state, (tuple, list)):
        return type(state)(map_state(fn, v) for v in state)
    return state


def select_rows(state: State, index: Tensor) -> State:
    """Rows ``index`` (a LongTensor) of every tensor: reorders beams, drops finished ones."""
    return map_state(lambda t: t.index_select(0, index.to(t.device)), state)


def repeat_rows(state: State, times: int) -> State:
    """Each row ``times`` times in a row: (N, ...) -> (N * times, ...), row n*times + k = row n."""
    return map_state(lambda t: t.repeat_interleave(times, dim=0), state)


def length_penalty_factor(length: int, alpha: float) -> float:
    """GNMT's lp = ((5 + length) / 6) ** alpha."""
    return ((5.0 + length) / 6.0) ** alpha if alpha else 1.0


def _max_lens(max_len: int | Sequence[int], batch_size: int) -> list[int]:
    lens = [max_len] * batch_size if isinstance(max_len, int) else list(max_len)
    if len(lens) != batch_size or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in lens):
        raise ConfigError(
            invalid("max_len", max_len, f"a positive integer or {batch_size} positive integers")
        )
    return lens


def _check_common(batch_size: int, length_penalty: float) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(invalid("batch_size", batch_size, "a positive integer"))
    if not isinstance(length_penalty, (int, float)) or length_penalty < 0:
        raise ConfigError(invalid("length_penalty", length_penalty, "a float >= 0"))


def _call(step: Step, tokens: Tensor, state: State, rows: int) -> tuple[Tensor, State, Tensor | None]:
    log_probs, state, extra = step(tokens, state)
    if log_probs.dim() != 2 or log_probs.shape[0] != rows:
        raise ShapeError(invalid("step's log_probs", tuple(log_probs.shape), f"shape ({rows}, vocabulary)"))
    return log_probs.float(), state, extra


# ------------------------------------------------------------------ greedy
@torch.no_grad()
def greedy_search(
    step: Step,
    state: State,
    *,
    batch_size: int,
    bos: int,
    eos: int,
    max_len: int | Sequence[int],
    length_penalty: float = 0.0,
) -> list[Hypothesis]:
    """The most likely token at every step, for ``batch_size`` sentences at once.

    Finished sentences leave the batch (their state rows are dropped), so a long sentence
    does not make the short ones pay for its steps.
    """
    _check_common(batch_size, length_penalty)
    lens = _max_lens(max_len, batch_size)
    device = _first_device(state)
    tokens = torch.full((batch_size,), bos, dtype=torch.long, device=device)
    rows = list(range(batch_size))  # sentence of each live row
    out: list[list[int]] = [[] for _ in range(batch_size)]
    extras: list[list[Any]] = [[] for _ in range(batch_size)]
    log_prob = [0.0] * batch_size
    result: list[Hypothesis | None] = [None] * batch_size
    while rows:
        lp, state, extra = _call(step, tokens, state, len(rows))
        best_lp, best = lp.max(dim=-1)
        keep: list[int] = []
        for r, (n, tok, tok_lp) in enumerate(zip(rows, best.tolist(), best_lp.tolist(), strict=True)):
            log_prob[n] += tok_lp
            if tok == eos:
                result[n] = _hyp(out[n], log_prob[n], extras[n], extra is not None, length_penalty, True)
                continue
            out[n].append(tok)
            if extra is not None:
                extras[n].append(extra[r])
            if len(out[n]) >= lens[n]:
                result[n] = _hyp(out[n], log_prob[n], extras[n], extra is not None, length_penalty, False)
            else:
                keep.append(r)
        if len(keep) < len(rows):
            idx = torch.tensor(keep, dtype=torch.long, device=device)
            state, best = select_rows(state, idx), best.index_select(0, idx)
            rows = [rows[r] for r in keep]
        tokens = best
    return [h for h in result if h is not None]


def _hyp(
    tokens: list[int], log_prob: float, extras: list[Any], has_extra: bool, alpha: float, ended: bool
) -> Hypothesis:
    scored = len(tokens) + (1 if ended else 0)
    return Hypothesis(
        tokens=list(tokens),
        score=log_prob / length_penalty_factor(scored, alpha),
        log_prob=log_prob,
        extras=list(extras) if has_extra else None,
        finished=ended,
    )


def _first_device(state: State) -> torch.device:
    if isinstance(state, Tensor):
        return state.device
    values = state.values() if isinstance(state, dict) else state if isinstance(state, (tuple, list)) else ()
    for v in values:
        if isinstance(v, (Tensor, dict, tuple, list)):
            return _first_device(v)
    return torch.device("cpu")


# ------------------------------------------------------------------ beam
@torch.no_grad()
def beam_search(
    step: Step,
    state: State,
    *,
    batch_size: int,
    bos: int,
    eos: int,
    beam: int,
    max_len: int | Sequence[int],
    length_penalty: float = 0.6,
    nbest: int = 1,
) -> list[list[Hypothesis]]:
    """The ``nbest`` best hypotheses per sentence (best first) found by a beam of width ``beam``.

    All sentences decode together: the state is expanded to ``batch_size * beam`` rows
    (row i * beam + k is beam k of live sentence i); a finished sentence's rows leave it.
    """
    _check_common(batch_size, length_penalty)
    if isinstance(beam, bool) or not isinstance(beam, int) or beam < 1:
        raise ConfigError(invalid("beam", beam, "a positive integer"))
    if isinstance(nbest, bool) or not isinstance(nbest, int) or not 1 <= nbest <= beam:
        raise ConfigError(invalid("nbest", nbest, f"an integer in [1, beam={beam}]"))
    lens = _max_lens(max_len, batch_size)
    device = _first_device(state)
    K = beam
    state = repeat_rows(state, K)
    live = list(range(batch_size))  # sentence of each live block of K rows
    tokens = torch.full((batch_size * K,), bos, dtype=torch.long, device=device)
    # Only beam 0 is real at the start: the others would duplicate it.
    beam_lp = torch.full((batch_size, K), float("-inf"), dtype=torch.float64, device=device)
    beam_lp[:, 0] = 0.0
    seqs = torch.zeros((batch_size * K, 0), dtype=torch.long, device=device)  # (rows, t)
    hist: Tensor | None = None  # (rows, t, ...) extras of the tokens in seqs
    final: list[list[Hypothesis]] = [[] for _ in range(batch_size)]
    t = 0
    while live:
        lp, state, extra = _call(step, tokens, state, len(live) * K)
        lp = lp.double()  # sums in float64, as greedy's Python floats: beam 1 == greedy exactly
        V = lp.shape[-1]
        cand = (beam_lp.reshape(-1, 1) + lp).reshape(len(live), K * V)  # (m, K*V)
        top_lp, top_idx = cand.topk(min(2 * K, K * V), dim=-1)  # sorted, best first
        parent = top_idx // V  # (m, 2K) beam index within the sentence
        token = top_idx % V
        keep_rows: list[int] = []
        keep_tok: list[int] = []
        keep_lp: list[float] = []
        still: list[int] = []
        for i, n in enumerate(live):
            chosen: list[tuple[int, int, float]] = []  # (row, token, log_prob) of the next beam
            for j, (b, tok, score) in enumerate(
                zip(parent[i].tolist(), token[i].tolist(), top_lp[i].tolist(), strict=True)
            ):
                if score == float("-inf"):
                    break
                row = i * K + b
                if tok == eos:
                    if j < K:  # an end among the K best ends a hypothesis
                        final[n].append(_beam_hyp(seqs, hist, row, score, length_penalty, True, extra=extra))
                elif len(chosen) < K:
                    chosen.append((row, tok, score))
            if t + 1 >= lens[n]:  # at max_len the continuations stop, without an end token
                for row, tok, score in chosen:
                    final[n].append(_beam_hyp(seqs, hist, row, score, length_penalty, False, tok, extra))
                chosen = []
            if len(final[n]) >= K or not chosen:
                continue
            while len(chosen) < K:  # tiny vocabularies: pad with dead copies
                chosen.append((chosen[0][0], chosen[0][1], float("-inf")))
            still.append(n)
            for row, tok, score in chosen:
                keep_rows.append(row)
                keep_tok.append(tok)
                keep_lp.append(score)
        if not still:
            break
        idx = torch.tensor(keep_rows, dtype=torch.long, device=device)
        state = select_rows(state, idx)
        tokens = torch.tensor(keep_tok, dtype=torch.long, device=device)
        seqs = torch.cat([seqs.index_select(0, idx), tokens.unsqueeze(1)], dim=1)
        if extra is not None:
            new = extra.index_select(0, idx).unsqueeze(1)
            hist = new if hist is None else torch.cat([hist.index_select(0, idx), new], dim=1)
        beam_lp = torch.tensor(keep_lp, dtype=torch.float64, device=device).reshape(len(still), K)
        live = still
        t += 1
    return [sorted(f, key=lambda h: h.score, reverse=True)[:nbest] for f in final]


def _beam_hyp(
    seqs: Tensor,
    hist: Tensor | None,
    row: int,
    log_prob: float,
    alpha: float,
    ended: bool,
    last: int | None = None,
    extra: Tensor | None = None,
) -> Hypothesis:
    """The hypothesis in ``row`` (plus ``last``, the token chosen at max_len, if any)."""
    tokens = seqs[row].tolist()
    extras = None
    if extra is not None:  # this step returned extras, so every earlier step did
        extras = [] if hist is None else list(hist[row].unbind(0))
    if last is not None:
        tokens.append(last)
        if extra is not None:
            extras = [*(extras or []), extra[row]]
    scored = len(tokens) + (1 if ended else 0)
    return Hypothesis(
        tokens=tokens,
        score=log_prob / length_penalty_factor(scored, alpha),
        log_prob=log_prob,
        extras=extras,
        finished=ended,
    )
