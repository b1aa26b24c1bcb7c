"""CTC decoding: greedy (best path) and prefix beam search with an optional word LM or vocabulary.

A CTC model emits, per frame t, log-probabilities ``log y[t, k]`` over K labels, label 0 being
the blank. An alignment ``a`` (one label per frame) is collapsed to a label sequence by
``B(a)``: merge runs of the same label, then drop blanks ("aa_ab" -> "aab"). The probability
of a label sequence l is ``P(l | x) = sum over a with B(a) = l of prod_t y[t, a_t]``.

- :func:`greedy_decode` collapses the per-frame argmax (the best *alignment*).
- :func:`prefix_beam_search` keeps the ``beam`` best label *prefixes*, each with two
  probabilities: of the frames so far ending in a blank (``p_b``) and not (``p_nb``), so
  every alignment of a prefix is summed, not only the best one (Hannun et al. 2014,
  "First-pass large vocabulary continuous speech recognition using bi-directional recurrent
  DNNs", algorithm 1; Graves 2012 ch. 7). With an unbounded beam it returns the exact
  ``P(l | x)`` of every sequence, which the tests check by brute-force enumeration.

Words: ``Alphabet`` says whether labels are characters (a space separates words) or whole
words. A :class:`WordLM` adds ``alpha * log P_lm(word | previous word) + beta`` each time a
word is completed (Hannun et al. eq. 3); a vocabulary (``WordLM.vocabulary`` or a plain set)
keeps only prefixes whose words, complete or partial, can be spelled from it.

Shapes: T frames, K labels (blank included). All scores are natural-log probabilities.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnkit.errors import ConfigError, ShapeError, invalid

BLANK = 0
NEG_INF = -math.inf


def _logaddexp(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    m = max(a, b)
    return m + math.log1p(math.exp(-abs(a - b)))


def collapse(path: Iterable[int], blank: int = BLANK) -> list[int]:
    """CTC's B: merge repeated labels, then drop blanks."""
    out: list[int] = []
    prev = None
    for k in path:
        if k != prev and k != blank:
            out.append(int(k))
        prev = k
    return out


def greedy_decode(log_probs: np.ndarray, blank: int = BLANK) -> list[int]:
    """Best-path decoding of (T, K) scores: collapse the argmax of every frame."""
    lp = np.asarray(log_probs)
    if lp.ndim != 2:
        raise ShapeError(f"log_probs must be (T, K), got shape {lp.shape}.")
    return collapse(lp.argmax(axis=1).tolist(), blank)


@dataclass
class WordLM:
    """A word bigram language model with add-k smoothing, fitted on transcripts.

    ``P(w | v) = (c(v, w) + k) / (c(v) + k |V|)`` over the vocabulary plus ``</s>``; ``<s>``
    starts every sentence. Words outside the vocabulary get probability 0 (-inf), so the LM
    is also a vocabulary constraint.
    """

    vocabulary: frozenset[str]
    bigrams: dict[tuple[str, str], int] = field(default_factory=dict)
    unigrams: dict[str, int] = field(default_factory=dict)
    k: float = 0.5

    @classmethod
    def fit(cls, texts: Iterable[str], k: float = 0.5) -> WordLM:
        big: Counter[tuple[str, str]] = Counter()
        uni: Counter[str] = Counter()
        vocab: set[str] = set()
        for text in texts:
            words = ["<s>", *text.split(), "</s>"]
            vocab.update(words[1:-1])
            for v, w in itertools.pairwise(words):
                big[(v, w)] += 1
                uni[v] += 1
        if not vocab:
            raise ConfigError(invalid("texts", "no words", "at least one non-empty transcript"))
        return cls(frozenset(vocab), dict(big), dict(uni), k)

    def log_prob(self, prev: str, word: str) -> float:
        """log P(word | prev); ``word`` may be ``"</s>"``, ``prev`` may be ``"<s>"``."""
        if word != "</s>" and word not in self.vocabulary:
            return NEG_INF
        n = len(self.vocabulary) + 1  # the outcomes: every word and </s>
        num = self.bigrams.get((prev, word), 0) + self.k
        return math.log(num / (self.unigrams.get(prev, 0) + self.k * n))

    def to_dict(self) -> dict[str, Any]:
        return {
            "vocabulary": sorted(self.vocabulary),
            "bigrams": [[v, w, c] for (v, w), c in sorted(self.bigrams.items())],
            "k": self.k,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WordLM:
        big = {(str(v), str(w)): int(c) for v, w, c in d["bigrams"]}
        uni: Counter[str] = Counter()
        for (v, _), c in big.items():
            uni[v] += c
        return cls(frozenset(d["vocabulary"]), big, dict(uni), float(d["k"]))


@dataclass(frozen=True)
class Alphabet:
    """The labels of a CTC model: ``labels[0]`` is the blank; ``level`` is "char" or "word"."""

    labels: tuple[str, ...]
    level: str = "char"

    def __post_init__(self) -> None:
        if self.level not in ("char", "word"):
            raise ConfigError(invalid("level", self.level, ("char", "word")))
        if len(self.labels) < 2 or self.labels[BLANK] != "<blank>":
            raise ConfigError(invalid("labels", self.labels[:3], "'<blank>' first, then at least one label"))

    @classmethod
    def from_texts(cls, texts: Iterable[str], level: str = "char") -> Alphabet:
        units: set[str] = set()
        for t in texts:
            units.update(t.split() if level == "word" else normalize_text(t))
        return cls(("<blank>", *sorted(units)), level)

    @property
    def space(self) -> int | None:
        """The id of the word separator (char level), if there is one."""
        return self.labels.index(" ") if self.level == "char" and " " in self.labels else None

    def encode(self, text: str) -> list[int]:
        """Label ids of a transcript; unknown units raise (the data and model disagree)."""
        index = {u: i for i, u in enumerate(self.labels)}
        units = text.split() if self.level == "word" else list(normalize_text(text))
        missing = sorted({u for u in units if u not in index})
        if missing:
            raise ConfigError(invalid("transcript", text, f"only units of the alphabet (not {missing})"))
        return [index[u] for u in units]

    def decode(self, ids: Sequence[int]) -> str:
        sep = " " if self.level == "word" else ""
        return " ".join(sep.join(self.labels[i] for i in ids if i != BLANK).split())  # single spaces


def normalize_text(text: str) -> str:
    """Lower case, single spaces: the form transcripts are compared and trained in."""
    return " ".join(text.lower().split())


@dataclass
class _Beam:
    p_b: float = NEG_INF  # log P(frames so far, ending in blank)
    p_nb: float = NEG_INF  # log P(frames so far, ending in the prefix's last label)

    @property
    def total(self) -> float:
        return _logaddexp(self.p_b, self.p_nb)


@dataclass(frozen=True)
class Hypothesis:
    """A decoded label sequence: its ids, text, acoustic log P(l | x) and the ranked score."""

    ids: tuple[int, ...]
    text: str
    acoustic: float
    score: float


def _words_of(ids: tuple[int, ...], alphabet: Alphabet) -> tuple[list[str], str]:
    """(complete words, the partial last word) of a prefix."""
    if alphabet.level == "word":
        return [alphabet.labels[i] for i in ids], ""
    text = "".join(alphabet.labels[i] for i in ids)
    *done, partial = text.split(" ") if text else [""]
    return [w for w in done if w], partial


def prefix_beam_search(
    log_probs: np.ndarray,
    alphabet: Alphabet,
    *,
    beam: int = 8,
    lm: WordLM | None = None,
    alpha: float = 0.5,
    beta: float = 0.0,
    vocabulary: Iterable[str] | None = None,
    prune: float | None = 1e-4,
    n_best: int = 1,
) -> list[Hypothesis]:
    """CTC prefix beam search over (T, K) log-probabilities; the ``n_best`` best, best first.

    Per frame, each kept prefix l is extended by every label c whose probability is above
    ``prune`` (None: all labels):

    - c = blank:       p_b(l)   += P(l) y_blank
    - c = last of l:   p_nb(l)  += p_nb(l) y_c      (a repeat collapses into l)
                       p_nb(l+c) += p_b(l) y_c      (a blank separated them)
    - otherwise:       p_nb(l+c) += P(l) y_c

    with P(l) = p_b + p_nb. Prefixes are ranked by ``log P(l) + alpha * LM(l) + beta * words(l)``,
    where LM(l) sums ``log P_lm`` over l's complete words. ``vocabulary`` (or the LM's) drops a
    prefix whose complete words are not in it or whose partial last word starts none of them.
    At the end, the last word counts as complete (and ``</s>`` is scored).
    """
    lp = np.asarray(log_probs, dtype=np.float64)
    if lp.ndim != 2 or lp.shape[1] != len(alphabet.labels):
        raise ShapeError(f"log_probs must be (T, {len(alphabet.labels)}), got shape {lp.shape}.")
    if not isinstance(beam, int) or beam < 1:
        raise ConfigError(invalid("beam", beam, "a positive integer"))
    vocab = frozenset(vocabulary) if vocabulary is not None else (lm.vocabulary if lm is not None else None)
    stems = {w[:i] for w in vocab for i in range(len(w) + 1)} if vocab is not None else None
    lm_cache: dict[tuple[int, ...], float] = {}

    def lm_score(ids: tuple[int, ...], final: bool) -> float:
        """alpha * LM + beta * words of a prefix, or -inf if the vocabulary forbids it."""
        key = (*ids, -1) if final else ids
        if key in lm_cache:
            return lm_cache[key]
        words, partial = _words_of(ids, alphabet)
        if final and partial:
            words, partial = [*words, partial], ""
        score = 0.0
        if vocab is not None and (
            any(w not in vocab for w in words) or (stems is not None and partial not in stems)
        ):
            score = NEG_INF
        elif lm is not None:
            prev = "<s>"
            for w in [*words, "</s>"] if final else words:
                score += alpha * lm.log_prob(prev, w)
                prev = w
        if score != NEG_INF:
            score += beta * len(words)
        lm_cache[key] = score
        return score

    beams: dict[tuple[int, ...], _Beam] = {(): _Beam(p_b=0.0)}
    floor = math.log(prune) if prune else NEG_INF
    for t in range(lp.shape[0]):
        y = lp[t]
        labels = [c for c in range(len(y)) if y[c] >= floor] or [int(y.argmax())]
        nxt: dict[tuple[int, ...], _Beam] = {}
        for prefix, b in beams.items():
            total = b.total
            for c in labels:
                p = y[c]
                if c == BLANK:
                    e = nxt.setdefault(prefix, _Beam())
                    e.p_b = _logaddexp(e.p_b, total + p)
                    continue
                ext = (*prefix, c)
                if prefix and prefix[-1] == c:
                    e = nxt.setdefault(prefix, _Beam())
                    e.p_nb = _logaddexp(e.p_nb, b.p_nb + p)
                    if b.p_b != NEG_INF and lm_score(ext, False) != NEG_INF:
                        e2 = nxt.setdefault(ext, _Beam())
                        e2.p_nb = _logaddexp(e2.p_nb, b.p_b + p)
                elif lm_score(ext, False) != NEG_INF:
                    e = nxt.setdefault(ext, _Beam())
                    e.p_nb = _logaddexp(e.p_nb, total + p)
        ranked = sorted(nxt.items(), key=lambda kv: (-(kv[1].total + lm_score(kv[0], False)), kv[0]))
        beams = dict(ranked[:beam])
    final = []
    for ids, b in beams.items():
        s = lm_score(ids, True)
        if s != NEG_INF:
            final.append(Hypothesis(ids, alphabet.decode(ids), b.total, b.total + s))
    final.sort(key=lambda h: (-h.score, h.ids))
    return final[:n_best]
