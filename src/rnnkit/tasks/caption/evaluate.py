"""Scores of generated captions: BLEU-4 (sacrebleu), exact match, truthfulness, digit accuracy.

Shapes: captions are compared in canonical form (synonyms mapped to one word, see
:func:`rnnkit.datasets.images.canonical_caption`), since "a little red disc" and "a small
red circle" say the same. Truthfulness parses a caption back into objects and relations and
checks them against the drawn scene: precision = stated facts that are true / stated facts,
recall = the scene's facts stated / the scene's facts (micro-averaged over the split).

Digit strips: whole-sequence accuracy (every digit right, none missing or extra) and the
digit error rate (edit distance / reference length, as a word error rate).
"""

from __future__ import annotations

import itertools
from typing import Any

from rnnkit.datasets.images import (
    HELD_OUT_PAIRS,
    HELD_OUT_RELATIONS,
    canonical_caption,
    parse_caption,
    parse_digits,
    relation,
    truthfulness,
)


def bleu4(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU-4 with sacrebleu's defaults (13a tokenization), 0-100."""
    import sacrebleu

    return round(float(sacrebleu.corpus_bleu(hypotheses, [references]).score), 2)


def _edits(a: list[int], b: list[int]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def composition_recall(hypotheses: list[str], scenes: list[Any]) -> dict[str, Any]:
    """Where composition fails: the share of scene objects whose (size, colour, shape) the
    caption states, for held-out colour-shape pairs and for seen ones; the same for the
    neighbour relations ("a small red circle to the left of a big blue square" verbatim),
    held-out shape-relation-shape triples apart from seen ones. None where a split has none."""
    hits = {k: [0, 0] for k in ("held_out_pairs", "seen_pairs", "held_out_relations", "seen_relations")}
    for hyp, objects in zip(hypotheses, scenes, strict=True):
        parsed = parse_caption(hyp)
        said = parsed[0] if parsed else []
        canon = canonical_caption(hyp)
        for o in objects:
            key = "held_out_pairs" if (o.colour, o.shape) in HELD_OUT_PAIRS else "seen_pairs"
            hits[key][0] += o.words in said
            hits[key][1] += 1
        for a, b in itertools.pairwise(objects):
            rel = relation(a, b)
            key = "held_out_relations" if (a.shape, rel, b.shape) in HELD_OUT_RELATIONS else "seen_relations"
            hits[key][0] += f"a {' '.join(a.words)} {rel} a {' '.join(b.words)}" in canon
            hits[key][1] += 1
    return {f"recall_{k}": (round(h / n, 4) if n else None) for k, (h, n) in hits.items()}


def score_captions(kind: str, hypotheses: list[str], split: Any) -> dict[str, Any]:
    """Metrics of ``hypotheses`` against a split (a :class:`~rnnkit.tasks.caption.data.Split`).

    For shapes, metrics are given for all images and per ``subset`` ("seen", "held_out").
    """
    refs = list(split.captions)
    if kind == "shapes":
        hyps = [canonical_caption(h) for h in hypotheses]
        refs = [canonical_caption(r) for r in refs]
        groups: dict[str, list[int]] = {"all": list(range(len(refs)))}
        for i, s in enumerate(split.subset or []):
            groups.setdefault(s, []).append(i)
        out: dict[str, Any] = {}
        for name, idx in groups.items():
            facts = [truthfulness(hyps[i], split.scenes[i]) for i in idx]
            true_stated, stated, covered, truth = (sum(f[k] for f in facts) for k in range(4))
            out[name] = {
                "images": len(idx),
                "bleu4": bleu4([hyps[i] for i in idx], [refs[i] for i in idx]),
                "exact_match": round(sum(hyps[i] == refs[i] for i in idx) / len(idx), 4),
                "truth_precision": round(true_stated / max(stated, 1), 4),
                "truth_recall": round(covered / max(truth, 1), 4),
                **composition_recall([hyps[i] for i in idx], [split.scenes[i] for i in idx]),
            }
        return out
    norm_h = [" ".join(h.split()) for h in hypotheses]
    norm_r = [" ".join(r.split()) for r in refs]
    out = {
        "images": len(refs),
        "bleu4": bleu4(norm_h, norm_r),
        "exact_match": round(sum(h == r for h, r in zip(norm_h, norm_r, strict=True)) / len(refs), 4),
    }
    if kind == "digits":
        edits = total = 0
        for h, digits in zip(norm_h, split.scenes, strict=True):
            said = parse_digits(h) or []
            edits += _edits(said, digits)
            total += len(digits)
        out["sequence_accuracy"] = out["exact_match"]
        out["digit_error_rate"] = round(edits / max(total, 1), 4)
    return out
