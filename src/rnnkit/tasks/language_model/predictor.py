"""A trained language model: suggestions and generation from a run directory.

Serving (:class:`LanguageModel`): a :class:`~rnnkit.tasks.decoding.DecoderState` per user
keeps the recurrent state; :meth:`LanguageModel.suggest` completes a partly typed last word
from the cached next-token distribution (word level) or by beam search over characters until
the word ends (char level); :meth:`LanguageModel.generate` samples with temperature,
top-k, top-p and a seed. Both step one token at a time and never re-run the prefix.
"""

from __future__ import annotations

import bisect
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnkit.config import choice
from rnnkit.data import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    Tokenizer,
    load_tokenizer,
)
from rnnkit.errors import ConfigError, DataError, invalid
from rnnkit.models import load_model
from rnnkit.tasks import runs
from rnnkit.tasks.decoding import DecoderState, filter_logits
from rnnkit.tasks.language_model.config import TASK, LMConfig
from rnnkit.tasks.language_model.data import load_corpus
from rnnkit.tasks.language_model.model import RecurrentLM, perplexity

logger = logging.getLogger(__name__)

# Word-level detokenisation (token_text): what attaches to the word before or after.
_NO_SPACE_BEFORE = set(".,;:!?%)]}'’")
_NO_SPACE_AFTER = {"(", "[", "{", "$", "“", "‘"}
_CLITICS = {"n't", "'s", "'re", "'ve", "'ll", "'d", "'m"}
_SENTENCE_END = {".", "!", "?"}
_WORD_END = re.compile(r"[\w'’]$")


# --------------------------------------------------------------------- serving
@dataclass(frozen=True)
class Suggestion:
    word: str
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return {"word": self.word, "probability": self.probability}


class Session:
    """One user's typing state: the text so far, mapped onto a :class:`DecoderState`.

    ``update(text)`` costs one step per token that changed (none for a keystroke inside a
    word at word level); :meth:`suggest` then reads the cached distribution.
    """

    def __init__(self, lm: LanguageModel) -> None:
        self.lm = lm
        self.decoder = lm.new_decoder()
        self.partial = ""

    def update(self, text: str) -> int:
        """Bring the state up to ``text``; returns the steps it took."""
        tokens, self.partial = self.lm.split_context(text)
        return self.decoder.sync(tokens)

    def suggest(self, top_k: int = 3) -> list[Suggestion]:
        return self.lm.suggest_from(self.decoder, self.partial, top_k)


class LanguageModel:
    """A trained LM with its tokenizer: perplexity, suggestions and generation."""

    def __init__(
        self, model: RecurrentLM, tokenizer: Tokenizer, config: LMConfig, *, int8: bool = False
    ) -> None:
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.model.eval()
        self.model.forget_states()
        self.level = config.level
        self.int8 = int8
        self.weights = model.step_weights(int8=int8)
        vocab = tokenizer.vocab
        self._specials = {PAD_ID, UNK_ID, BOS_ID, EOS_ID}
        # Sorted (token, id) pairs: the completions of a prefix are one contiguous slice.
        pairs = sorted((t, i) for i, t in enumerate(vocab) if i not in self._specials)
        self._sorted_tokens = [t for t, _ in pairs]
        self._sorted_ids = torch.tensor([i for _, i in pairs], dtype=torch.long)
        # Sampling never emits padding, <bos> or <unk>; <eos> is a line break.
        self._banned = torch.tensor(sorted({PAD_ID, BOS_ID, UNK_ID}), dtype=torch.long)
        self._start = self._start_token()

    @classmethod
    def load(cls, path: str | Path, *, int8: bool = False) -> LanguageModel:
        """The LM of a run directory; ``int8=True`` decodes with int8 weights (faster, measured error)."""
        run = runs.open_trained_run(path, TASK)
        model = load_model(run.model_path, compile=False)
        tok = load_tokenizer(run.file(runs.TOKENIZER_FILE))
        return cls(model, tok, LMConfig.from_dict(run.config), int8=int8)

    def _start_token(self) -> int:
        # Text starts after a line end: <eos> for words (PTB's layout), "\n" for characters.
        if self.level == "char":
            nl = self.tokenizer.token_to_id("\n")
            return nl if nl != UNK_ID else EOS_ID
        return EOS_ID

    # ------------------------------------------------------------------ state
    def new_decoder(self) -> DecoderState:
        return DecoderState(self.weights, self._start)

    def session(self, text: str = "") -> Session:
        """A per-user session (the server keeps one per user); ``text`` is fed at once."""
        s = Session(self)
        if text:
            s.update(text)
        return s

    def encode_context(self, text: str) -> list[int]:
        if self.level == "char":
            return self.tokenizer.encode(text)
        return _word_stream_inline(self.tokenizer, text)

    def split_context(self, text: str) -> tuple[list[int], str]:
        """(ids of the finished context, the partly typed last word or "").

        Word level: a last word not followed by a space is partial and is not fed.
        Char level: every character is fed; the partial word is the trailing run of letters.
        """
        if self.level == "char":
            m = re.search(r"[\w'’]+$", text)
            return self.tokenizer.encode(text), m.group(0) if m else ""
        if text and _WORD_END.search(text):
            words = self.tokenizer.tokenize(text)
            if words:
                partial = words[-1]
                head = text[: len(text) - len(partial)] if text.lower().endswith(partial) else text
                if head != text:
                    return _word_stream_inline(self.tokenizer, head), partial
        return _word_stream_inline(self.tokenizer, text), ""

    # ------------------------------------------------------------ suggestions
    def suggest(self, text: str, top_k: int = 3) -> list[Suggestion]:
        """The ``top_k`` most likely next words after ``text``, completing a partly typed last word."""
        check_top_k(top_k)
        return self.session(text).suggest(top_k)

    def suggest_from(self, decoder: DecoderState, partial: str, top_k: int) -> list[Suggestion]:
        check_top_k(top_k)
        if self.level == "char":
            return self._beam_words(decoder, partial, top_k)
        probs = torch.softmax(decoder.logits, dim=-1)  # (V,)
        ids = self._completions(partial)
        if ids.numel() == 0:
            return []
        p = probs[ids]
        k = min(top_k, ids.numel())
        vals, idx = torch.topk(p, k)
        cased = self.tokenizer.cased  # "I", "Ishmael" as the corpus wrote them
        return [
            Suggestion(cased(self.tokenizer.vocab[int(ids[i])]), float(v))
            for v, i in zip(vals, idx, strict=True)
        ]

    def _completions(self, partial: str) -> torch.Tensor:
        """Ids of the vocabulary words starting with ``partial`` (all words for "")."""
        if not partial:
            return self._sorted_ids
        partial = partial.lower() if getattr(self.tokenizer, "lower", False) else partial
        lo = bisect.bisect_left(self._sorted_tokens, partial)
        hi = bisect.bisect_left(self._sorted_tokens, partial + "\U0010ffff")
        return self._sorted_ids[lo:hi]

    @torch.no_grad()
    def _beam_words(
        self, decoder: DecoderState, partial: str, top_k: int, max_chars: int = 24
    ) -> list[Suggestion]:
        """Char level: beam search over characters until the word ends; the top-k distinct words.

        A beam is (log-prob, characters so far, decoder); a beam ends when the model emits a
        character that cannot be part of a word, and the word's score includes that end.
        """
        width = max(2 * top_k, 8)
        vocab = self.tokenizer.vocab
        is_word_char = torch.tensor([bool(re.fullmatch(r"[\w'’]", t)) for t in vocab])
        is_word_char[list(self._specials)] = False
        beams: list[tuple[float, str, DecoderState]] = [(0.0, "", decoder.fork())]
        done: dict[str, float] = {}
        for _ in range(max_chars):
            cands: list[tuple[float, str, DecoderState, int]] = []
            for score, chars, dec in beams:
                logp = torch.log_softmax(dec.logits, dim=-1)
                end = float(torch.logsumexp(logp[~is_word_char], dim=0))  # P(word ends here)
                word = partial + chars
                if word and score + end > done.get(word, -math.inf):
                    done[word] = score + end
                top = torch.topk(logp.masked_fill(~is_word_char, -math.inf), width)
                for v, i in zip(top.values.tolist(), top.indices.tolist(), strict=True):
                    if v > -math.inf:
                        cands.append((score + v, chars + vocab[i], dec, i))
            best_done = sorted(done.values(), reverse=True)[:top_k]
            cands.sort(key=lambda c: -c[0])
            cands = cands[:width]
            # Stop when no open beam can still beat the k-th finished word.
            if not cands or (len(best_done) == top_k and cands[0][0] < best_done[-1]):
                break
            beams = []
            for score, chars, dec, i in cands:
                child = dec.fork()
                child.push(i)
                beams.append((score, chars, child))
        ranked = sorted(done.items(), key=lambda kv: -kv[1])[:top_k]
        return [Suggestion(w, math.exp(s)) for w, s in ranked]

    # -------------------------------------------------------------- generation
    @torch.no_grad()
    def iter_generate(
        self,
        prompt: str = "",
        length: int = 50,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Yield the generated tokens' text one at a time (streaming).

        ``temperature=0`` is greedy decoding: the most likely token at every step (the limit of
        softmax(logits / T) as T -> 0), the same text for any seed."""
        check_sampling(length, temperature, top_k, top_p)
        gen = torch.Generator().manual_seed(int(seed) if seed is not None else int(torch.seed() % 2**63))
        dec = self.new_decoder()
        context = self.encode_context(prompt)
        dec.sync(context)
        prev = context[-1] if context else None
        # Straight double quotes open and close alike: an odd count on the line so far means open.
        quote_open = prompt.rsplit("\n", 1)[-1].count('"') % 2 == 1
        for i in range(length):
            logits = dec.logits.clone()
            logits[self._banned] = float("-inf")
            if temperature == 0:
                token = int(logits.argmax())
            else:
                probs = torch.softmax(filter_logits(logits, temperature, top_k, top_p), dim=-1)
                token = int(torch.multinomial(probs, 1, generator=gen))
            dec.push(token)
            first = i == 0 and (not prompt or prompt[-1].isspace() or prompt[-1] in _NO_SPACE_AFTER)
            yield self.token_text(token, first=first, prev=prev, quote_open=quote_open)
            prev = token
            if self.level == "word":
                quote_open = token != EOS_ID and quote_open != (self.tokenizer.vocab[token] == '"')

    def generate(
        self,
        prompt: str = "",
        length: int = 50,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> str:
        """``length`` tokens (words or characters) sampled after ``prompt``; returns only the new text."""
        return "".join(self.iter_generate(prompt, length, temperature, top_k, top_p, seed))

    def token_text(
        self, token: int, first: bool = False, prev: int | None = None, quote_open: bool = False
    ) -> str:
        """The text of ``token`` as it follows ``prev``: words are detokenised, so punctuation and
        contractions attach to the word before ("whale." not "whale .", "don't") and nothing
        follows a line break or an opening bracket with a space. ``quote_open``: an odd number
        of straight double quotes precede on the line, so a '"' closes (attaches to the word
        before) and, when ``prev`` is that opening '"', the word attaches to it: 'like "deeper"
        models', not 'like " deeper " models'. A lower-casing tokenizer gives each word the
        form the corpus mostly wrote ("I", "Ishmael") and capitalises it after . ! ? or a line
        break, when the corpus used capitals at all."""
        if self.level == "char":
            return self.tokenizer.vocab[token] if token != EOS_ID else "\n"
        if token == EOS_ID:
            return "\n"
        word = self.tokenizer.vocab[token]
        before = self.tokenizer.vocab[prev] if prev is not None and prev != EOS_ID else None
        word = self.tokenizer.cased(word, sentence_start=prev == EOS_ID or before in _SENTENCE_END)
        glued = (
            first
            or prev == EOS_ID
            or word[:1] in _NO_SPACE_BEFORE
            or word.lower() in _CLITICS
            or (before is not None and before in _NO_SPACE_AFTER)
            or (word == '"' and quote_open)  # a closing quote
            or (before == '"' and quote_open)  # the first word inside the quotes
        )
        return word if glued else " " + word

    def perplexity(self, text: str) -> dict[str, float]:
        ids = self.encode_context(text)
        if len(ids) < 2:
            raise DataError("text is too short to score: give at least two tokens.")
        return perplexity(self.model, ids, batch_size=1)

    def evaluate(self, split: str = "test") -> dict[str, float]:
        """Perplexity of the run's ``split`` ("train", "validation", "test"), read with its tokenizer."""
        choice("split", split, ("train", "validation", "test"))
        corpus = load_corpus(self.config, self.tokenizer)
        return perplexity(self.model, getattr(corpus, split))

    def describe(self) -> dict[str, Any]:
        """What ``/api/runs`` shows about this run."""
        return {"level": self.level, "int8": self.int8}


def _word_stream_inline(tok: Tokenizer, text: str) -> list[int]:
    """Words of ``text`` with <eos> at each line break (but not after the last line)."""
    out: list[int] = []
    lines = text.split("\n")
    for j, line in enumerate(lines):
        out += [tok.token_to_id(w) for w in tok.tokenize(line)]
        if j < len(lines) - 1:
            out.append(EOS_ID)
    return out


def check_top_k(top_k: Any) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k <= 0:
        raise ConfigError(invalid("top_k", top_k, "an integer >= 1"))


def check_sampling(length: Any, temperature: Any, top_k: Any, top_p: Any) -> None:
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ConfigError(invalid("length", length, "an integer >= 0"))
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not temperature >= 0
        or math.isinf(temperature)
    ):
        raise ConfigError(
            invalid("temperature", temperature, "a number >= 0 (0: always the most likely token)")
        )
    if top_k is not None:
        check_top_k(top_k)
    if top_p is not None and (not isinstance(top_p, (int, float)) or not 0 < top_p <= 1):
        raise ConfigError(invalid("top_p", top_p, "a number in (0, 1]"))
