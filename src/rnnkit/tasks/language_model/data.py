"""Language-model data: a bundled corpus or a text file as token ids, cut for truncated BPTT.

Training is truncated BPTT over B parallel streams (``rnnkit.models.tbptt.TBPTT``):
the stateful layers carry their state between chunks, detached.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnkit.data import EOS_ID, CharTokenizer, Tokenizer, WordTokenizer, read_text
from rnnkit.errors import DataError, invalid
from rnnkit.models.tbptt import TBPTT
from rnnkit.tasks.language_model.config import BUILTIN_CORPORA, LMConfig


@dataclass
class Corpus:
    tokenizer: Tokenizer
    train: list[int]
    validation: list[int]
    test: list[int]
    source: str


def _word_stream(tok: Tokenizer, text: str) -> list[int]:
    """Words of each non-empty line, then <eos> (Mikolov's PTB layout)."""
    out: list[int] = []
    for line in text.splitlines():
        words = tok.tokenize(line)
        if words:
            out += [tok.token_to_id(w) for w in words]
            out.append(EOS_ID)
    return out


def load_corpus(config: LMConfig, tokenizer: Tokenizer | None = None) -> Corpus:
    """Token ids of train/validation/test for a bundled corpus or a text file (90/5/5 by position)."""
    if config.data in BUILTIN_CORPORA:
        from rnnkit import datasets

        ds: Any = datasets.load(config.data)
        parts = (ds.train, ds.validation, ds.test)
        source = f"dataset {config.data}"
    else:
        path = Path(config.data)
        if not path.is_file():
            raise DataError(
                invalid("data", config.data, f"one of {', '.join(BUILTIN_CORPORA)} or an existing text file")
            )
        text = read_text(path)
        if not text.strip():
            raise DataError(f"text file {str(path)!r} is empty: a language model needs text to learn from.")
        n = len(text)
        a, b = int(0.9 * n), int(0.95 * n)
        parts = (text[:a], text[a:b] or text[:a], text[b:] or text[:a])
        source = str(path)
    if config.max_tokens is not None:
        # Quick runs: enough characters for ~max_tokens tokens at either level.
        chars = config.max_tokens * (1 if config.level == "char" else 8)
        parts = tuple(p[:chars] for p in parts)  # type: ignore[assignment]
    if tokenizer is None:
        if config.level == "char":
            tokenizer = CharTokenizer().fit([parts[0]])
        else:
            # PTB is pre-tokenized and lower-case: split on spaces only; other text splits punctuation.
            punct = "keep" if config.data == "ptb" else "split"
            tokenizer = WordTokenizer(lower=True, punctuation=punct, max_size=config.max_vocab).fit(
                parts[0].splitlines()
            )
    if config.level == "char":
        streams = [tokenizer.encode(p) for p in parts]
    else:
        streams = [_word_stream(tokenizer, p) for p in parts]
    if len(streams[0]) < 2:
        raise DataError(f"{source!r} has {len(streams[0])} training tokens: at least 2 are needed.")
    return Corpus(tokenizer, streams[0], streams[1], streams[2], source=source)


def tbptt_data(ids: Sequence[int], batch_size: int, bptt: int) -> TBPTT:
    """B streams cut into chunks of ``bptt`` steps (fewer streams for a tiny corpus)."""
    batch_size = max(1, min(batch_size, (len(ids) - 1) // 2))
    return TBPTT.from_tokens(torch.tensor(ids), batch_size=batch_size, chunk_len=bptt)


class _Capped:
    """At most ``n`` chunks of a TBPTT per epoch, keeping its hooks (quick runs)."""

    def __init__(self, data: TBPTT, n: int | None) -> None:
        self.data, self.n = data, n

    def __len__(self) -> int:
        return len(self.data) if self.n is None else min(self.n, len(self.data))

    def __iter__(self) -> Iterator[Any]:
        for i, batch in enumerate(self.data):
            if i >= len(self):
                return
            yield batch

    def on_epoch_begin(self, model: Any) -> None:
        self.data.on_epoch_begin(model)

    def on_batch_begin(self, model: Any, batch: int) -> None:
        self.data.on_batch_begin(model, batch)
