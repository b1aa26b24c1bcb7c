"""A trained translation run: ``Translator.load(run_dir).translate(texts, beam=5)``.

Decoding encodes a batch of sentences once and then runs the decoder cell step by step
through :func:`rnnkit.models.search.beam_search` (or ``greedy_search`` at beam 1); sentences
are batched by length and returned in the order given. Scores are sacrebleu's BLEU and chrF
with the library's defaults, and each result carries sacrebleu's signature string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rnnkit.data import BOS_ID, EOS_ID, BPETokenizer, load_tokenizer
from rnnkit.errors import ConfigError, DataError, MissingDependencyError, invalid
from rnnkit.models import load_model
from rnnkit.models.search import beam_search, greedy_search
from rnnkit.tasks import runs
from rnnkit.tasks.translation.config import TranslationConfig
from rnnkit.tasks.translation.data import Pair, pad
from rnnkit.tasks.translation.model import Seq2Seq

TASK = "translate"
SOURCE_TOKENIZER = "tokenizer-source.json"
TARGET_TOKENIZER = "tokenizer-target.json"
MAX_CHARS = 2000  # a request longer than this is refused before tokenizing
MAX_BEAM = 16


@dataclass
class Translation:
    """One hypothesis: the text, its subword tokens, and (on request) the attention map."""

    text: str
    score: float  # length-normalised log-probability (what the beam ranks by)
    log_prob: float
    tokens: list[str] = field(default_factory=list)  # target subwords
    source_tokens: list[str] = field(default_factory=list)
    attention: list[list[float]] | None = None  # (target tokens, source tokens)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "score": self.score,
            "log_prob": self.log_prob,
            "tokens": self.tokens,
            "source_tokens": self.source_tokens,
            "attention": self.attention,
        }


def _readable(tok: BPETokenizer, ids: Sequence[int]) -> list[str]:
    """Subwords as text (byte-level BPE shows a leading space as 'Ġ', so pieces are decoded).

    A piece may hold part of a character's UTF-8 bytes ("ó" split in two), which decodes alone
    to U+FFFD. Each label is therefore the text the piece *completes*: the decoded prefix up to
    it (its trailing incomplete bytes dropped) minus the prefix before it; a piece that completes
    nothing yet is labelled "·".
    """
    labels, done = [], ""
    for k in range(len(ids)):
        text = tok.decode(ids[: k + 1], skip_special=False).rstrip("\ufffd")
        new = text[len(done) :] if text.startswith(done) else tok.decode([ids[k]], skip_special=False)
        labels.append(new or "·")
        done = text
    return labels


class Translator:
    """A trained model with its two tokenizers: ``translate``, ``score`` (BLEU/chrF), ``evaluate``."""

    def __init__(
        self, model: Seq2Seq, src_tok: BPETokenizer, tgt_tok: BPETokenizer, config: TranslationConfig
    ) -> None:
        self.model, self.src_tok, self.tgt_tok, self.config = model, src_tok, tgt_tok, config
        self.model.eval()
        self.run_dir: Path | None = None

    @classmethod
    def load(cls, path: str | Path) -> Translator:
        run = runs.open_trained_run(path, TASK)
        model = load_model(run.model_path, compile=False)
        src = load_tokenizer(run.file(SOURCE_TOKENIZER))
        tgt = load_tokenizer(run.file(TARGET_TOKENIZER))
        out = cls(model, src, tgt, TranslationConfig.from_dict(run.config))  # type: ignore[arg-type]
        out.run_dir = run.path
        return out

    def describe(self) -> dict[str, Any]:
        c = self.config
        return {
            "task": TASK,
            "data": c.data,
            "cell": c.cell,
            "attention": c.attention,
            "bidirectional": c.bidirectional,
            "units": c.units,
            "beam": c.beam,
            "max_src_len": c.max_src_len,
            "parameters": self.model.count_params(),
        }

    # ------------------------------------------------------------------ input checks
    def encode_source(self, text: str, *, truncate: bool = False) -> list[int]:
        """Subword ids of one source sentence; empty or over-long input is refused, named
        (``truncate=True``: cut to ``max_src_len`` instead, for scoring a whole test set)."""
        if not isinstance(text, str) or not text.strip():
            raise DataError(invalid("text", text, "a non-empty sentence to translate"))
        if len(text) > MAX_CHARS:
            raise DataError(invalid("text", f"{len(text)} characters", f"at most {MAX_CHARS} characters"))
        ids = self.src_tok.encode(text.strip())
        if truncate:
            return ids[: self.config.max_src_len]
        if len(ids) > self.config.max_src_len:
            raise DataError(
                invalid(
                    "text",
                    f"{len(ids)} subword tokens",
                    f"at most {self.config.max_src_len} (the max_src_len the model was trained with)",
                )
            )
        return ids

    def _check(self, beam: int, nbest: int, batch_size: int) -> None:
        if isinstance(beam, bool) or not isinstance(beam, int) or not 1 <= beam <= MAX_BEAM:
            raise ConfigError(invalid("beam", beam, f"an integer in [1, {MAX_BEAM}]"))
        if isinstance(nbest, bool) or not isinstance(nbest, int) or not 1 <= nbest <= beam:
            raise ConfigError(invalid("nbest", nbest, f"an integer in [1, beam={beam}]"))
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(invalid("batch_size", batch_size, "a positive integer"))

    # ------------------------------------------------------------------ decoding
    @torch.no_grad()
    def translate(
        self,
        texts: str | Sequence[str],
        *,
        beam: int | None = None,
        nbest: int = 1,
        batch_size: int = 32,
        length_penalty: float | None = None,
        attention: bool = False,
        truncate: bool = False,
    ) -> list[list[Translation]]:
        """The ``nbest`` best translations of each text (best first), in the order given."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise DataError(invalid("texts", [], "at least one sentence"))
        beam = self.config.beam if beam is None else beam
        alpha = self.config.length_penalty if length_penalty is None else length_penalty
        self._check(beam, nbest, batch_size)
        ids = [self.encode_source(t, truncate=truncate) for t in texts]
        order = np.argsort([len(s) for s in ids], kind="stable")  # similar lengths share a batch
        out: list[list[Translation]] = [[] for _ in texts]
        self.model.eval()
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            for i, hyps in zip(idx, self._decode([ids[i] for i in idx], beam, nbest, alpha), strict=True):
                out[i] = [self._translation(h, ids[i], attention) for h in hyps]
        return out

    def _decode(self, batch: list[list[int]], beam: int, nbest: int, alpha: float) -> list[list[Any]]:
        device = next(self.model.parameters()).device
        src = pad(batch).to(device)  # (B, S)
        state = self.model.encode(src)  # the encoder runs once per batch
        cap = self.config.max_tgt_len
        max_len = [min(cap, int(self.config.max_len_ratio * len(s)) + 10) for s in batch]
        kw = dict(batch_size=len(batch), bos=BOS_ID, eos=EOS_ID, max_len=max_len)
        step: Any = self.model.step
        n = self.config.no_repeat_ngram
        if n:
            step = _no_repeat_step(self.model.step, n)
            state = {"inner": state, "history": src.new_zeros((len(batch), 0))}  # (B, 0): no tokens yet
        if beam == 1:
            return [[h] for h in greedy_search(step, state, length_penalty=alpha, **kw)]  # type: ignore[arg-type]
        return beam_search(step, state, beam=beam, nbest=nbest, length_penalty=alpha, **kw)  # type: ignore[arg-type]

    def _translation(self, hyp: Any, src_ids: list[int], attention: bool) -> Translation:
        attn = None
        if attention and hyp.extras is not None:
            # each row covers the padded batch's source steps: keep this sentence's own
            attn = [[round(float(v), 4) for v in row[: len(src_ids)]] for row in hyp.extras]
        return Translation(
            text=self.tgt_tok.decode(hyp.tokens).strip(),
            score=float(hyp.score),
            log_prob=float(hyp.log_prob),
            tokens=_readable(self.tgt_tok, hyp.tokens),
            source_tokens=_readable(self.src_tok, src_ids),
            attention=attn,
        )

    # ------------------------------------------------------------------ scoring
    def score(
        self, pairs: Sequence[Pair], *, beam: int | None = None, batch_size: int = 32
    ) -> dict[str, Any]:
        """Corpus BLEU and chrF (sacrebleu defaults) of the translations of ``pairs``' sources."""
        sources = [s for s, _ in pairs]
        hyps = [h[0].text for h in self.translate(sources, beam=beam, batch_size=batch_size, truncate=True)]
        result = sacrebleu_scores(hyps, [t for _, t in pairs])
        result["beam"] = self.config.beam if beam is None else beam
        return result

    def evaluate(self, split: str = "test", *, beam: int | None = None) -> dict[str, Any]:
        """BLEU and chrF on a split of the data the run was trained on (``rnnkit evaluate``)."""
        from rnnkit.tasks.translation.data import load_pairs

        if split not in ("validation", "test"):
            raise ConfigError(invalid("split", split, ("validation", "test")))
        pairs = getattr(load_pairs(self.config), split)
        if self.config.max_eval is not None:
            pairs = pairs[: self.config.max_eval]
        return {"split": split, **self.score(pairs, beam=beam)}


def ban_repeats(log_probs: torch.Tensor, history: torch.Tensor, n: int) -> torch.Tensor:
    """``log_probs`` (N, V) with -inf on every token that would complete an n-gram already in
    ``history`` (N, L): the last n - 1 tokens matched earlier are followed by a banned token.

    The decoder of an under-trained model goes round in circles ("y en tus ojos, y en tus
    ojos, ..."); fairseq's ``--no-repeat-ngram-size`` forbids the second lap outright.
    """
    length = history.shape[1]
    if length < n:
        return log_probs
    windows = history.unfold(1, n, 1)  # (N, L - n + 1, n): every n-gram so far
    prefix = history[:, length - n + 1 :]  # (N, n - 1): what the next token would extend
    match = (windows[:, :, :-1] == prefix.unsqueeze(1)).all(-1)  # (N, L - n + 1)
    # Windows that do not match write into a spare column V, dropped after: one (N, V + 1) copy
    # per decoding step instead of a (N, V) count tensor and a masked copy (6x faster at N=160).
    v = log_probs.shape[1]
    banned = torch.where(match, windows[:, :, -1], v)  # (N, L - n + 1) token ids, or V
    return F.pad(log_probs, (0, 1)).scatter_(1, banned, float("-inf"))[:, :v]


def _no_repeat_step(step: Any, n: int) -> Any:
    """Wrap a search step: the state carries each hypothesis's tokens (reordered with the beams)."""

    def wrapped(tokens: torch.Tensor, state: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any], Any]:
        history = torch.cat([state["history"], tokens.unsqueeze(1)], dim=1)  # (N, L + 1), <bos> first
        log_probs, inner, extra = step(tokens, state["inner"])
        return ban_repeats(log_probs, history, n), {"inner": inner, "history": history}, extra

    return wrapped


def sacrebleu_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """sacrebleu's corpus BLEU and chrF with their signatures (the library's default settings)."""
    try:
        from sacrebleu.metrics import BLEU, CHRF
    except ImportError:
        raise MissingDependencyError(
            "translation scores need sacrebleu: pip install 'rnnkit[translate]'."
        ) from None
    bleu, chrf = BLEU(), CHRF()
    b = bleu.corpus_score(list(hypotheses), [list(references)])
    c = chrf.corpus_score(list(hypotheses), [list(references)])
    return {
        "bleu": round(b.score, 2),
        "chrf": round(c.score, 2),
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "sentences": len(hypotheses),
    }
