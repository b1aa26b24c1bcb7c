"""Training half of the recurrent language models: config, network, corpus, TBPTT data, perplexity.

Model (:class:`RecurrentLM`, Zaremba et al. 2014 with tied weights, Press & Wolf 2017)::

    ids (B, T) -> Embedding(V, E) -> Dropout -> [LSTM/GRU (stateful) -> Dropout] x L (B, T, H)
               -> [Dense(E) if H != E] -> logits = h E^T + b (B, T, V)   # output tied to the embedding

Training is truncated BPTT over B parallel streams (``rnnkit.models.tbptt.TBPTT``):
the stateful layers carry their state between chunks, detached.

Serving (suggestions, generation) is in :mod:`rnnkit.tasks.language_model`, which also
re-exports everything public here.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit import layers
from rnnkit.core.initializers import RandomNormal, RandomUniform
from rnnkit.data import (
    EOS_ID,
    CharTokenizer,
    Tokenizer,
    WordTokenizer,
    load_tokenizer,
    read_text,
)
from rnnkit.errors import ConfigError, DataError, invalid
from rnnkit.layers.core_layers import check_rate
from rnnkit.models import Model, optimizers
from rnnkit.models.callbacks import Callback, ReduceLROnPlateau
from rnnkit.models.losses import SparseCategoricalCrossentropy
from rnnkit.models.tbptt import TBPTT
from rnnkit.tasks import rundir
from rnnkit.tasks.common import TaskConfig, check_choice, check_positive, fit_in_run
from rnnkit.tasks.decoding import StepWeights

TASK = "lm"
LEVELS = ("word", "char")
LM_CELLS = {"lstm": layers.LSTM, "gru": layers.GRU}
LM_OPTIMIZERS = ("adam", "sgd")
BUILTIN_CORPORA = ("ptb", "shakespeare")


# ------------------------------------------------------------------------- config
@dataclass
class LMConfig(TaskConfig):
    """Every knob of an LM run; presets in ``configs/lm_ptb.toml`` and ``configs/char_lm.toml``."""

    data: str = "ptb"  # ptb | shakespeare | a UTF-8 text file
    level: str = "word"  # word | char
    max_vocab: int | None = 10_000  # word level: vocabulary cap, 4 special tokens included
    embed_dim: int = 256
    units: int = 256
    num_layers: int = 2
    cell: str = "lstm"  # lstm | gru
    dropout: float = 0.4
    tie_weights: bool = True
    batch_size: int = 32
    bptt: int = 35  # steps per truncated-BPTT chunk
    epochs: int = 6
    learning_rate: float = 2e-3
    optimizer: str = "adam"  # adam | sgd (PyTorch's word_language_model example: sgd, lr 20)
    clipnorm: float = 1.0  # adam: per-weight norm clip (Keras's clipnorm); sgd: the global norm
    lr_decay: float | None = None  # multiply lr by this after an epoch without val_loss progress
    init_range: float | None = None  # embedding U(-r, r); None: N(0, 1)
    seed: int = 0
    threads: int | None = None  # torch threads; 1 is often faster on a busy shared machine
    max_tokens: int | None = None  # cap on training tokens (quick runs and tests)
    max_steps: int | None = None  # cap on chunks per epoch (quick runs and tests)

    def __post_init__(self) -> None:
        check_choice("level", self.level, LEVELS)
        check_choice("cell", self.cell, LM_CELLS)
        for name in ("embed_dim", "units", "num_layers", "batch_size", "bptt"):
            check_positive(name, getattr(self, name))
        check_positive("epochs", self.epochs, minimum=0)
        check_rate("dropout", self.dropout)
        check_choice("optimizer", self.optimizer, LM_OPTIMIZERS)
        if self.lr_decay is not None and not 0.0 < self.lr_decay < 1.0:
            raise ConfigError(invalid("lr_decay", self.lr_decay, "None or a float in (0, 1)"))
        if self.init_range is not None and not self.init_range > 0.0:
            raise ConfigError(invalid("init_range", self.init_range, "None or a float > 0"))


# -------------------------------------------------------------------------- model
class RecurrentLM(Model):
    """Embedding -> stacked stateful LSTM/GRU with dropout -> output tied to the embedding."""

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 256,
        units: int = 256,
        num_layers: int = 2,
        cell: str = "lstm",
        dropout: float = 0.4,
        tie_weights: bool = True,
        init_range: float | None = None,
    ) -> None:
        super().__init__()
        check_choice("cell", cell, LM_CELLS)
        self.tie_weights = tie_weights
        # Default N(0, 1) as torch.nn.Embedding, not Keras's U(-0.05, 0.05): with the output tied
        # to this matrix, tiny embeddings give tiny logits and gradients under Adam. Measured on
        # PTB (2 x 200, Adam 3e-3): training loss 6.60 after 150 chunks with Keras's init, 5.77
        # with N(0, 1). SGD at lr 20 (PyTorch's example) scales them up itself from U(-0.1, 0.1).
        init = RandomNormal(stddev=1.0) if init_range is None else RandomUniform(-init_range, init_range)
        self.embedding = layers.Embedding(vocab_size, embed_dim, embeddings_initializer=init)
        self.rnns = nn.ModuleList(
            LM_CELLS[cell](units, return_sequences=True, stateful=True) for _ in range(num_layers)
        )
        self.drop = layers.Dropout(dropout)
        self.proj = layers.Dense(embed_dim) if tie_weights and units != embed_dim else None
        if tie_weights:
            self.out_bias = nn.Parameter(torch.zeros(vocab_size))
            self.head = None
        else:
            self.head = layers.Dense(vocab_size)

    def forward(self, ids: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        h = self.drop(self.embedding(ids))  # (B, T, E)
        for rnn in self.rnns:
            h = self.drop(rnn(h))  # (B, T, H)
        if self.proj is not None:
            h = self.proj(h)  # (B, T, E)
        if self.head is not None:
            return self.head(h)  # (B, T, V)
        emb: Any = self.embedding
        return F.linear(h, emb.weight, self.out_bias)  # (B, T, V), tied

    def step_weights(self, int8: bool = False) -> StepWeights:
        """The weights as one step needs them (detached: decoding never trains; int8: see StepWeights)."""

        def det(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.detach()

        cells = []
        me: Any = self  # layers are built lazily: their weights are not visible to mypy
        for rnn in me.rnns:
            p = rnn.cell.params()
            cells.append(
                dataclasses.replace(
                    p,
                    weight_ih=p.weight_ih.detach(),
                    weight_hh=p.weight_hh.detach(),
                    bias_ih=det(p.bias_ih),
                    bias_hh=det(p.bias_hh),
                )
            )
        emb = me.embedding.weight.detach()
        if me.head is not None:
            out_w, out_b = me.head.weight.detach(), det(me.head.bias)
        else:
            out_w, out_b = emb, me.out_bias.detach()
        proj_w = proj_b = None
        if me.proj is not None:
            proj_w, proj_b = me.proj.weight.detach(), det(me.proj.bias)
        return StepWeights(emb, tuple(cells), proj_w, proj_b, out_w, out_b, int8=int8)

    def forget_states(self) -> None:
        """Drop the carried states (and their batch size): the next call starts from zeros."""
        rnn: Any
        for rnn in self.rnns:
            rnn.reset_states(batch_size=None)


def build_model(config: LMConfig, vocab_size: int) -> RecurrentLM:
    return RecurrentLM(
        vocab_size,
        embed_dim=config.embed_dim,
        units=config.units,
        num_layers=config.num_layers,
        cell=config.cell,
        dropout=config.dropout,
        tie_weights=config.tie_weights,
        init_range=config.init_range,
    )


# --------------------------------------------------------------------------- data
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


@torch.no_grad()
def perplexity(
    model: RecurrentLM, ids: Sequence[int], batch_size: int = 10, bptt: int = 35
) -> dict[str, float]:
    """Mean cross-entropy (nats/token) and perplexity over ``ids``, state carried across chunks."""
    model.eval()
    model.forget_states()
    data = tbptt_data(ids, batch_size, bptt)
    total, count = 0.0, 0
    for x, y, _ in data:
        if y is None:
            continue
        logits = model(x)  # (B, k, V)
        total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"))
        count += y.numel()
    model.forget_states()
    nats = total / max(count, 1)
    return {
        "nats_per_token": nats,
        "perplexity": math.exp(nats),
        "bits_per_token": nats / math.log(2),
        "tokens": count,
    }


# ---------------------------------------------------------------------- training
def _optimizer(config: LMConfig) -> optimizers.Optimizer:
    if config.optimizer == "sgd":
        # Plain SGD with the gradient's global norm clipped (torch.nn.utils.clip_grad_norm_).
        return optimizers.SGD(learning_rate=config.learning_rate, global_clipnorm=config.clipnorm)
    return optimizers.Adam(learning_rate=config.learning_rate, clipnorm=config.clipnorm)


def train_lm(
    config: LMConfig, out: str | Path, *, resume: bool | None = None, verbose: int = 0
) -> dict[str, Any]:
    """Train an LM into run directory ``out``; returns the metrics written there."""
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    run = rundir.create_run(out, TASK, config.to_dict())
    tok_path = run.file(rundir.TOKENIZER_FILE)
    resuming = resume is not False and run.checkpoint_path.exists() and tok_path.exists()
    corpus = load_corpus(config, load_tokenizer(tok_path) if resuming else None)
    corpus.tokenizer.save(tok_path)
    train = _Capped(tbptt_data(corpus.train, config.batch_size, config.bptt), config.max_steps)
    n_streams = train.data.x.shape[0]
    # Validation uses the training batch size: the stateful layers keep their batch dimension.
    val = _Capped(tbptt_data(corpus.validation, n_streams, config.bptt), config.max_steps)
    if val.data.x.shape[0] != n_streams:
        val = None  # type: ignore[assignment]  # corpus too small for as many streams
    model = build_model(config, corpus.tokenizer.vocab_size)
    model.compile(optimizer=_optimizer(config), loss=SparseCategoricalCrossentropy(from_logits=True))
    decay: list[Callback] = []
    if config.lr_decay is not None and val is not None:
        # PyTorch's example divides lr by 4 whenever validation loss stops improving.
        decay.append(ReduceLROnPlateau(monitor="val_loss", factor=config.lr_decay, patience=0, min_delta=0.0))
    start, seconds = fit_in_run(
        model, run, train, val, epochs=config.epochs, resume=resume, verbose=verbose, extra_callbacks=decay
    )
    model.forget_states()
    model.save(run.model_path)
    t0 = time.perf_counter()
    val_m = perplexity(model, corpus.validation)
    test_m = perplexity(model, corpus.test)
    metrics = {
        "task": TASK,
        "data": corpus.source,
        "level": config.level,
        "vocab_size": corpus.tokenizer.vocab_size,
        "tokens": {
            "train": len(corpus.train),
            "validation": len(corpus.validation),
            "test": len(corpus.test),
        },
        "epochs": config.epochs,
        "resumed_from_epoch": start,
        "train_seconds_this_session": round(seconds, 1),
        "eval_seconds": round(time.perf_counter() - t0, 1),
        "parameters": model.count_params(),
        **{f"validation_{k}": v for k, v in val_m.items()},
        **{f"test_{k}": v for k, v in test_m.items()},
    }
    rundir.write_json_atomic(run.file(rundir.METRICS_FILE), metrics)
    return metrics
