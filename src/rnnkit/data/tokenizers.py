"""Tokenizers: characters, words, and byte-level BPE (through Hugging Face ``tokenizers``).

Every tokenizer shares one id layout so that models and padding agree on it::

    0 <pad>   1 <unk>   2 <bos>   3 <eos>   4.. the learned vocabulary

``<pad>`` is 0 because :func:`rnnkit.data.pad_sequences` pads with 0 and masks
treat 0 as padding, as Keras's ``Embedding(mask_zero=True)`` does.

Tokenizers are saved as JSON (never pickle: a tokenizer file must be safe to open
and readable by hand) and reloaded with :func:`load_tokenizer` or ``Cls.load``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from rnnkit.errors import ConfigError, DataError, MissingDependencyError, invalid
from rnnkit.utils.io import atomic_write_json

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3

PUNCTUATION_MODES = ("split", "strip", "keep")

_FORMAT_VERSION = 1


class Tokenizer:
    """Base class: a vocabulary (list of tokens, index = id) plus ``tokenize``/``detokenize``.

    Subclasses define how text is cut into tokens (:meth:`tokenize`) and glued back
    (:meth:`detokenize`); the vocabulary, encoding, decoding and saving live here.
    """

    kind: ClassVar[str] = "base"

    def __init__(self) -> None:
        self.vocab: list[str] = list(SPECIAL_TOKENS)
        self._index: dict[str, int] = {t: i for i, t in enumerate(self.vocab)}
        self._fitted = False

    # --- to override -------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def detokenize(self, tokens: Sequence[str]) -> str:
        raise NotImplementedError

    def _config(self) -> dict[str, Any]:
        return {}

    def cased(self, word: str, *, sentence_start: bool = False) -> str:
        """``word`` as the corpus wrote it: itself here; a lower-casing tokenizer gives the casing back."""
        return word

    # --- vocabulary ----------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def fitted(self) -> bool:
        return self._fitted

    def token_to_id(self, token: str) -> int:
        return self._index.get(token, UNK_ID)

    def id_to_token(self, idx: int) -> str:
        if not 0 <= idx < len(self.vocab):
            raise DataError(invalid("id", idx, f"an integer in [0, {len(self.vocab) - 1}]"))
        return self.vocab[idx]

    def _set_vocab(self, tokens: Iterable[str]) -> None:
        self.vocab = list(SPECIAL_TOKENS) + [t for t in tokens if t not in SPECIAL_TOKENS]
        self._index = {t: i for i, t in enumerate(self.vocab)}

    def fit(
        self, texts: Iterable[str], *, min_freq: int | None = None, max_size: int | None = None
    ) -> Tokenizer:
        """Build the vocabulary from ``texts``: most frequent first, ties broken alphabetically.

        ``max_size`` is the size of the whole vocabulary *including* the 4 special
        tokens, so it is the ``input_dim`` an Embedding needs.
        """
        min_freq = getattr(self, "min_freq", 1) if min_freq is None else min_freq
        max_size = getattr(self, "max_size", None) if max_size is None else max_size
        if isinstance(texts, str):
            raise ConfigError(invalid("texts", texts[:20] + "...", "an iterable of strings, not one string"))
        counts: Counter[str] = Counter()
        n = 0
        for text in texts:
            counts.update(self.tokenize(text))
            n += 1
        if n == 0:
            raise DataError("cannot fit a tokenizer on no texts: texts is empty.")
        # Sort by (-count, token) so that the same corpus always gives the same ids.
        ranked = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            ranked = [t for t in ranked if t not in SPECIAL_TOKENS][: max(0, max_size - len(SPECIAL_TOKENS))]
        self._set_vocab(ranked)
        self._fitted = True
        return self

    # --- encoding ------------------------------------------------------------------------------
    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Text -> ids; tokens outside the vocabulary become ``<unk>`` (id 1)."""
        if not self.fitted:
            raise DataError(f"{type(self).__name__} has no vocabulary yet: call fit(texts) or load(path).")
        ids = [self._index.get(t, UNK_ID) for t in self.tokenize(text)]
        if add_bos:
            ids.insert(0, BOS_ID)
        if add_eos:
            ids.append(EOS_ID)
        return ids

    def encode_batch(
        self, texts: Iterable[str], *, add_bos: bool = False, add_eos: bool = False
    ) -> list[list[int]]:
        return [self.encode(t, add_bos=add_bos, add_eos=add_eos) for t in texts]

    def decode(self, ids: Iterable[int], *, skip_special: bool = True) -> str:
        """Ids -> text. ``<pad>``, ``<bos>`` and ``<eos>`` are dropped when ``skip_special``;
        ``<unk>`` is always kept (as the text ``<unk>``) so unknown words stay visible."""
        skip = {PAD_ID, BOS_ID, EOS_ID} if skip_special else set()
        tokens = [self.id_to_token(int(i)) for i in ids if int(i) not in skip]
        return self.detokenize(tokens)

    # --- persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": _FORMAT_VERSION,
            "type": self.kind,
            "config": self._config(),
            "vocab": self.vocab,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tokenizer:
        kind = data.get("type")
        target = _REGISTRY.get(str(kind)) if cls is Tokenizer else cls
        if target is None or target.kind != kind:
            raise DataError(invalid("type", kind, sorted(_REGISTRY) if cls is Tokenizer else [cls.kind]))
        tok = target(**data.get("config", {}))
        tok._restore(data)
        return tok

    def _restore(self, data: dict[str, Any]) -> None:
        vocab = data.get("vocab")
        if not isinstance(vocab, list) or tuple(vocab[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise DataError(
                f"tokenizer file has no valid vocab: it must be a list starting with {SPECIAL_TOKENS}."
            )
        self.vocab = vocab
        self._index = {t: i for i, t in enumerate(vocab)}
        self._fitted = True

    def save(self, path: str | Path) -> Path:
        """Write the tokenizer as UTF-8 JSON and return the path."""
        return atomic_write_json(path, self.to_dict(), indent=1)

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        """Read a file written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"tokenizer file not found: {str(path)!r}.")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"tokenizer file {str(path)!r} is not valid JSON: {exc}.") from None
        return cls.from_dict(data)

    def __repr__(self) -> str:
        cfg = ", ".join(f"{k}={v!r}" for k, v in self._config().items())
        return f"{type(self).__name__}({cfg}{', ' if cfg else ''}vocab_size={self.vocab_size})"


class CharTokenizer(Tokenizer):
    """One token per Unicode character. ``decode(encode(t)) == t`` for any text whose
    characters were seen in ``fit``."""

    kind = "char"

    def __init__(self, *, lower: bool = False, min_freq: int = 1, max_size: int | None = None) -> None:
        super().__init__()
        _check_counts(min_freq, max_size)
        self.lower, self.min_freq, self.max_size = lower, min_freq, max_size

    def tokenize(self, text: str) -> list[str]:
        return list(text.lower() if self.lower else text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)

    def _config(self) -> dict[str, Any]:
        return {"lower": self.lower, "min_freq": self.min_freq, "max_size": self.max_size}


class WordTokenizer(Tokenizer):
    """Words, with options for case and punctuation.

    ``punctuation``: ``"split"`` makes each punctuation mark its own token ("good!" ->
    "good", "!"); ``"strip"`` drops it; ``"keep"`` splits on whitespace only (right for
    pre-tokenized corpora such as Penn Treebank). The special tokens (``<unk>`` ...) are
    always recognised as single tokens, since PTB writes ``<unk>`` in its text.
    Decoding joins words with single spaces, so ``decode(encode(t))`` equals the
    normalized text ``" ".join(tokenize(t))``, not ``t`` itself.
    """

    kind = "word"
    # A word may carry an inner apostrophe ("don't", "o'er"); anything else non-space is punctuation.
    _SPLIT = re.compile(r"<(?:pad|unk|bos|eos)>|\w+(?:['’]\w+)*|[^\w\s]")
    _STRIP = re.compile(r"<(?:pad|unk|bos|eos)>|\w+(?:['’]\w+)*")

    def __init__(
        self,
        *,
        lower: bool = True,
        punctuation: str = "split",
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> None:
        super().__init__()
        if punctuation not in PUNCTUATION_MODES:
            raise ConfigError(invalid("punctuation", punctuation, PUNCTUATION_MODES))
        _check_counts(min_freq, max_size)
        self.lower, self.punctuation, self.min_freq, self.max_size = lower, punctuation, min_freq, max_size
        # lower=True: each vocabulary word's most common written form where it is not the
        # lower-case one ("i" -> "I", "ishmael" -> "Ishmael"), so generated text gets its
        # casing back (:meth:`cased`); empty when the corpus is all lower case (PTB).
        self.casing: dict[str, str] = {}

    def _split(self, text: str) -> list[str]:
        if self.punctuation == "keep":
            return text.split()
        pattern = self._SPLIT if self.punctuation == "split" else self._STRIP
        return pattern.findall(text)

    def tokenize(self, text: str) -> list[str]:
        return self._split(text.lower() if self.lower else text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)

    def fit(
        self, texts: Iterable[str], *, min_freq: int | None = None, max_size: int | None = None
    ) -> WordTokenizer:
        if isinstance(texts, str) or not self.lower:
            super().fit(texts, min_freq=min_freq, max_size=max_size)
            return self
        forms: dict[str, Counter[str]] = {}  # lower-case word -> its written forms, counted

        def recording(texts: Iterable[str]) -> Iterator[str]:  # one pass: no copy of the corpus
            for text in texts:
                for form in self._split(text):
                    forms.setdefault(form.lower(), Counter())[form] += 1
                yield text

        super().fit(recording(texts), min_freq=min_freq, max_size=max_size)
        self.casing = {}
        for word in self.vocab[len(SPECIAL_TOKENS) :]:
            seen = forms.get(word)
            if seen:
                best = min(seen, key=lambda f: (-seen[f], f != word, f))  # most common; ties: lower case
                if best != word:
                    self.casing[word] = best
        return self

    def cased(self, word: str, *, sentence_start: bool = False) -> str:
        """``word`` as the corpus mostly wrote it; capitalised at a sentence start when the
        corpus used capitals at all (a lower-case corpus stays lower case)."""
        form = self.casing.get(word, word)
        if sentence_start and self.casing and form.islower():
            form = form[:1].upper() + form[1:]
        return form

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if self.casing:
            data["casing"] = self.casing
        return data

    def _restore(self, data: dict[str, Any]) -> None:
        super()._restore(data)
        casing = data.get("casing", {})
        if not isinstance(casing, dict) or not all(isinstance(v, str) for v in casing.values()):
            raise DataError("tokenizer file has an invalid casing table: it must map words to strings.")
        self.casing = casing

    def _config(self) -> dict[str, Any]:
        return {
            "lower": self.lower,
            "punctuation": self.punctuation,
            "min_freq": self.min_freq,
            "max_size": self.max_size,
        }


class BPETokenizer(Tokenizer):
    """Byte-level BPE trained by Hugging Face ``tokenizers`` (the GPT-2 scheme).

    Byte-level means any text, emoji and accents included, round-trips exactly:
    ``decode(encode(t)) == t``. Needs ``pip install 'rnnkit[text]'``.
    """

    kind = "bpe"

    def __init__(self, *, vocab_size: int = 8000, min_freq: int = 2, lower: bool = False) -> None:
        super().__init__()
        if not isinstance(vocab_size, int) or vocab_size < len(SPECIAL_TOKENS) + 256:
            raise ConfigError(invalid("vocab_size", vocab_size, "an integer >= 260 (4 specials + 256 bytes)"))
        _check_counts(min_freq, None)
        self.target_vocab_size, self.min_freq, self.lower = vocab_size, min_freq, lower
        self._hf: Any = None

    def _config(self) -> dict[str, Any]:
        return {"vocab_size": self.target_vocab_size, "min_freq": self.min_freq, "lower": self.lower}

    @property
    def fitted(self) -> bool:
        return self._hf is not None

    def fit(
        self, texts: Iterable[str], *, min_freq: int | None = None, max_size: int | None = None
    ) -> BPETokenizer:
        hf = _import_tokenizers()
        if isinstance(texts, str):
            raise ConfigError(invalid("texts", texts[:20] + "...", "an iterable of strings, not one string"))
        texts = [t.lower() if self.lower else t for t in texts]
        if not texts:
            raise DataError("cannot fit a tokenizer on no texts: texts is empty.")
        tok = hf.Tokenizer(hf.models.BPE(unk_token=UNK))
        tok.pre_tokenizer = hf.pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = hf.decoders.ByteLevel()
        trainer = hf.trainers.BpeTrainer(
            vocab_size=max_size or self.target_vocab_size,
            min_frequency=min_freq or self.min_freq,
            special_tokens=list(SPECIAL_TOKENS),  # given first, so they get ids 0..3
            initial_alphabet=hf.pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer)
        self._attach(tok)
        return self

    def _attach(self, tok: Any) -> None:
        # A text that spells a special token ("<pad>") is text, not that token: encoded as bytes,
        # so decode(encode(t)) == t holds for it too (found by the round-trip property test).
        tok.encode_special_tokens = True
        self._hf = tok
        vocab = tok.get_vocab()
        self.vocab = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
        self._index = dict(vocab)

    def tokenize(self, text: str) -> list[str]:
        if self._hf is None:
            raise DataError("BPETokenizer has no vocabulary yet: call fit(texts) or load(path).")
        return list(self._hf.encode(text.lower() if self.lower else text).tokens)

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        if self._hf is None:
            raise DataError("BPETokenizer has no vocabulary yet: call fit(texts) or load(path).")
        ids = list(self._hf.encode(text.lower() if self.lower else text).ids)
        return ([BOS_ID] if add_bos else []) + ids + ([EOS_ID] if add_eos else [])

    def encode_batch(
        self, texts: Iterable[str], *, add_bos: bool = False, add_eos: bool = False
    ) -> list[list[int]]:
        if self._hf is None:
            raise DataError("BPETokenizer has no vocabulary yet: call fit(texts) or load(path).")
        texts = [t.lower() if self.lower else t for t in texts]
        pre, post = ([BOS_ID] if add_bos else []), ([EOS_ID] if add_eos else [])
        # encode_batch runs in Rust threads: much faster than a Python loop on long corpora.
        return [pre + list(e.ids) + post for e in self._hf.encode_batch(texts)]

    def decode(self, ids: Iterable[int], *, skip_special: bool = True) -> str:
        if self._hf is None:
            raise DataError("BPETokenizer has no vocabulary yet: call fit(texts) or load(path).")
        ids = [int(i) for i in ids]
        for i in ids:
            self.id_to_token(i)  # range check with our error message
        if skip_special:
            ids = [i for i in ids if i not in (PAD_ID, BOS_ID, EOS_ID)]
        return str(self._hf.decode(ids, skip_special_tokens=False))

    def detokenize(self, tokens: Sequence[str]) -> str:
        return self.decode([self.token_to_id(t) for t in tokens], skip_special=False)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["hf_tokenizer"] = self._hf.to_str() if self._hf is not None else None
        return data

    def _restore(self, data: dict[str, Any]) -> None:
        if data.get("hf_tokenizer"):
            hf = _import_tokenizers()
            self._attach(hf.Tokenizer.from_str(data["hf_tokenizer"]))


_REGISTRY: dict[str, type[Tokenizer]] = {c.kind: c for c in (CharTokenizer, WordTokenizer, BPETokenizer)}


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Load any tokenizer saved by ``save(path)``; the file records its type."""
    return Tokenizer.load(path)


def _check_counts(min_freq: int, max_size: int | None) -> None:
    if not isinstance(min_freq, int) or min_freq < 1:
        raise ConfigError(invalid("min_freq", min_freq, "an integer >= 1"))
    if max_size is not None and (not isinstance(max_size, int) or max_size <= len(SPECIAL_TOKENS)):
        raise ConfigError(invalid("max_size", max_size, f"None or an integer > {len(SPECIAL_TOKENS)}"))


def _import_tokenizers() -> Any:
    try:
        import tokenizers
        import tokenizers.decoders
        import tokenizers.models
        import tokenizers.pre_tokenizers
        import tokenizers.trainers
    except ImportError:
        raise MissingDependencyError(
            "BPETokenizer needs the Hugging Face 'tokenizers' package: pip install 'rnnkit[text]'."
        ) from None
    return tokenizers
