"""Sentiment analysis: text -> one of two or more classes, with probabilities.

Model (:class:`SentimentNet`)::

    ids (B, T) -> Embedding(V, E, mask_zero) -> [Bi]LSTM/GRU/SimpleRNN x L (B, T, D*H)
               -> concat(masked max pool, masked mean pool) (B, 2*D*H) -> Dropout -> Dense(C) logits

Training batches are *bucketed*: reviews sorted by length (with jitter, so batches
change between epochs), cut into batches, and each batch trimmed to its shortest
review. Trimming drops a few tail tokens (<1% on IMDB at batch 32) and leaves no
padding at all, so every batch runs the fused oneDNN kernel instead of a packed
sequence (ANCHORS.md: packing made the hand-written baseline 12 min/epoch).
Evaluation and prediction pad instead (exact, masked) since they do not train.

``train_sentiment`` writes a run directory (``rnnkit.tasks.rundir``); the
:class:`SentimentClassifier` loads one and predicts.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnkit import layers
from rnnkit.data import LabeledTexts, Tokenizer, WordTokenizer, load_text_classification, load_tokenizer
from rnnkit.errors import ConfigError, DataError, invalid
from rnnkit.layers.core_layers import check_rate
from rnnkit.models import Model, load_model, optimizers
from rnnkit.models.callbacks import EarlyStopping
from rnnkit.models.losses import SparseCategoricalCrossentropy
from rnnkit.tasks import rundir
from rnnkit.tasks.common import (  # noqa: F401 (re-exported: sentiment's public API)
    EpochCheckpoint,
    EpochLog,
    TaskConfig,
    check_choice,
    check_positive,
    config_from_dict,
    fit_in_run,
    load_preset,
    write_curve,
)

logger = logging.getLogger(__name__)

TASK = "sentiment"
CELL_LAYERS = {"lstm": layers.LSTM, "gru": layers.GRU, "rnn": layers.SimpleRNN}
POOLINGS = ("max", "mean", "maxmean", "last")
BUILTIN_DATA = ("imdb", "tweets", "rotten_tomatoes")


# ------------------------------------------------------------------------- config
@dataclass
class SentimentConfig(TaskConfig):
    """Every knob of a sentiment run; presets live in ``configs/sentiment.toml``."""

    data: str = "imdb"  # a bundled dataset name or a CSV/TSV/JSONL path
    text_column: str = "text"
    label_column: str = "label"
    max_vocab: int = 20_000  # including the 4 special tokens
    maxlen: int = 400  # tokens kept per text (the first ones)
    embed_dim: int = 128
    units: int = 128
    num_layers: int = 1
    cell: str = "lstm"  # lstm | gru | rnn
    bidirectional: bool = True
    pooling: str = "maxmean"  # max | mean | maxmean | last
    dropout: float = 0.3  # before the classifier
    batch_size: int = 32
    epochs: int = 4
    learning_rate: float = 2e-3
    clipnorm: float = 1.0
    seed: int = 0
    threads: int | None = None  # torch threads; 1 is often faster on a busy shared machine
    max_samples: int | None = None  # cap on training texts (quick runs and tests)
    max_steps: int | None = None  # cap on batches per epoch (quick runs and tests)

    def __post_init__(self) -> None:
        check_choice("cell", self.cell, CELL_LAYERS)
        check_choice("pooling", self.pooling, POOLINGS)
        for name in ("max_vocab", "maxlen", "embed_dim", "units", "num_layers", "batch_size"):
            check_positive(name, getattr(self, name))
        check_positive("epochs", self.epochs, minimum=0)
        check_rate("dropout", self.dropout)


# -------------------------------------------------------------------------- model
class SentimentNet(Model):
    """Embedding -> stacked (bidirectional) recurrent layers -> pooling -> Dense logits."""

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embed_dim: int = 128,
        units: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = True,
        pooling: str = "maxmean",
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        check_choice("cell", cell, CELL_LAYERS)
        check_choice("pooling", pooling, POOLINGS)
        if num_classes < 2:
            raise ConfigError(invalid("num_classes", num_classes, "an integer >= 2"))
        self.pooling = pooling
        self.embedding = layers.Embedding(vocab_size, embed_dim, mask_zero=True)
        stack = []
        for i in range(num_layers):
            last_only = pooling == "last" and i == num_layers - 1
            rnn = CELL_LAYERS[cell](units, return_sequences=not last_only)
            stack.append(layers.Bidirectional(rnn) if bidirectional else rnn)
        self.rnns = nn.ModuleList(stack)
        self.max_pool = layers.GlobalMaxPooling1D()
        self.mean_pool = layers.GlobalAveragePooling1D()
        self.drop = layers.Dropout(dropout)
        self.head = layers.Dense(num_classes)

    def forward(self, ids: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        h = self.embedding(ids)  # (B, T, E), carries the padding mask
        for rnn in self.rnns:
            h = rnn(h)  # (B, T, D*H) or (B, D*H) for pooling="last"
        if self.pooling == "max":
            h = self.max_pool(h)
        elif self.pooling == "mean":
            h = self.mean_pool(h)
        elif self.pooling == "maxmean":
            h = torch.cat([self.max_pool(h), self.mean_pool(h)], dim=-1)  # (B, 2*D*H)
        return self.head(self.drop(h))  # (B, C)


def build_model(config: SentimentConfig, vocab_size: int, num_classes: int) -> SentimentNet:
    return SentimentNet(
        vocab_size,
        num_classes,
        embed_dim=config.embed_dim,
        units=config.units,
        num_layers=config.num_layers,
        cell=config.cell,
        bidirectional=config.bidirectional,
        pooling=config.pooling,
        dropout=config.dropout,
    )


# --------------------------------------------------------------------------- data
class BucketedBatches:
    """Re-iterable (x, y) batches of similar-length sequences, for ``fit``/``evaluate``.

    ``trim=True`` (training): each batch is cut to its shortest sequence, so it has no
    padding. ``trim=False``: padded with 0 to the longest (exact; the model masks it).
    """

    def __init__(
        self,
        seqs: Sequence[Sequence[int]],
        labels: np.ndarray,
        batch_size: int,
        *,
        shuffle: bool,
        trim: bool,
        seed: int = 0,
        max_steps: int | None = None,
    ) -> None:
        self.seqs = [np.asarray(s, dtype=np.int64) for s in seqs]
        self.labels = np.asarray(labels, dtype=np.int64)
        self.lengths = np.array([len(s) for s in self.seqs])
        self.batch_size, self.shuffle, self.trim, self.max_steps = batch_size, shuffle, trim, max_steps
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = math.ceil(len(self.seqs) / self.batch_size)
        return n if self.max_steps is None else min(n, self.max_steps)

    def batch_indices(self) -> list[np.ndarray]:
        # Jitter of +-10% keeps the buckets tight while changing them from epoch to epoch.
        keys = self.lengths * (1 + 0.1 * self.rng.uniform(-1, 1, len(self.lengths)) if self.shuffle else 1)
        order = np.argsort(keys, kind="stable")
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.shuffle:
            self.rng.shuffle(batches)  # type: ignore[arg-type]
        return batches[: len(self)]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for idx in self.batch_indices():
            lens = self.lengths[idx]
            T = int(lens.min() if self.trim else lens.max())
            x = np.zeros((len(idx), T), dtype=np.int64)  # (B, T), 0 = <pad>
            for row, i in enumerate(idx):
                s = self.seqs[i][:T]
                x[row, : len(s)] = s
            yield torch.from_numpy(x), torch.from_numpy(self.labels[idx])


@dataclass
class TextSplits:
    train: LabeledTexts
    validation: LabeledTexts
    test: LabeledTexts
    classes: list[str]
    source: str


def load_sentiment_data(config: SentimentConfig) -> TextSplits:
    """A bundled dataset (its fixed split) or a table file (seeded 80/10/10 split)."""
    if config.data in BUILTIN_DATA:
        from rnnkit import datasets

        ds: Any = datasets.load(config.data)
        splits = TextSplits(ds.train, ds.validation, ds.test, list(ds.classes), f"dataset {config.data}")
    else:
        path = Path(config.data)
        if not path.is_file():
            raise DataError(
                invalid(
                    "data", config.data, f"one of {', '.join(BUILTIN_DATA)} or an existing CSV/TSV/JSONL file"
                )
            )
        table = load_text_classification(
            path, text_column=config.text_column, label_column=config.label_column
        )
        splits = split_table(table, seed=config.seed, source=str(path))
    present = sorted({int(v) for v in splits.train.labels})
    if len(present) < 2:
        only = splits.classes[present[0]] if present else "none"
        raise DataError(
            f"labels have a single class ({only!r}): a classifier needs texts of at least two classes."
        )
    if config.max_samples is not None:
        splits.train = take(splits.train, np.arange(min(config.max_samples, len(splits.train))))
        n_eval = max(1, config.max_samples // 4)
        splits.validation = take(splits.validation, np.arange(min(n_eval, len(splits.validation))))
        splits.test = take(splits.test, np.arange(min(n_eval, len(splits.test))))
    return splits


def take(part: LabeledTexts, idx: np.ndarray) -> LabeledTexts:
    return LabeledTexts([part.texts[i] for i in idx], part.labels[idx], part.classes)


def split_table(table: LabeledTexts, *, seed: int, source: str) -> TextSplits:
    """Seeded 80/10/10 split of a user's table (at least one text in each part)."""
    n = len(table)
    if n < 3:
        raise DataError(f"{source!r} has {n} labelled texts: at least 3 are needed (train/validation/test).")
    order = np.random.default_rng(seed).permutation(n)
    n_test = n_val = max(1, n // 10)
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return TextSplits(take(table, train), take(table, val), take(table, test), table.classes, source)


def make_tokenizer(texts: Sequence[str], max_vocab: int) -> WordTokenizer:
    tok = WordTokenizer(lower=True, punctuation="split", max_size=max_vocab)
    tok.fit(texts)
    return tok


def encode_texts(tok: Tokenizer, texts: Sequence[str], maxlen: int) -> list[list[int]]:
    # An empty text still needs one step: <unk> stands in (training data only; predict refuses it).
    return [tok.encode(t)[:maxlen] or [1] for t in texts]


# ---------------------------------------------------------------- run directories


# ---------------------------------------------------------------------- training
def train_sentiment(
    config: SentimentConfig,
    out: str | Path,
    *,
    resume: bool | None = None,
    verbose: int = 0,
) -> dict[str, Any]:
    """Train a classifier into run directory ``out``; returns the metrics written there."""
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    data = load_sentiment_data(config)
    run = rundir.create_run(out, TASK, config.to_dict())
    tok_path = run.file(rundir.TOKENIZER_FILE)
    resuming = resume is not False and run.checkpoint_path.exists()
    tok = (
        load_tokenizer(tok_path)
        if resuming and tok_path.exists()
        else make_tokenizer(data.train.texts, config.max_vocab)
    )
    tok.save(tok_path)
    enc = {
        name: encode_texts(tok, getattr(data, name).texts, config.maxlen)
        for name in ("train", "validation", "test")
    }
    train = BucketedBatches(
        enc["train"],
        data.train.labels,
        config.batch_size,
        shuffle=True,
        trim=True,
        seed=config.seed,
        max_steps=config.max_steps,
    )
    val = BucketedBatches(enc["validation"], data.validation.labels, 64, shuffle=False, trim=False)
    model = build_model(config, tok.vocab_size, len(data.classes))
    model.compile(
        optimizer=optimizers.Adam(learning_rate=config.learning_rate, clipnorm=config.clipnorm),
        loss=SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    # Keep the epoch with the best validation accuracy: BiLSTMs overfit IMDB after 3-4 epochs.
    best = EarlyStopping(monitor="val_accuracy", mode="max", patience=2, restore_best_weights=True)
    start, seconds = fit_in_run(
        model, run, train, val, epochs=config.epochs, resume=resume, verbose=verbose, extra_callbacks=[best]
    )
    model.save(run.model_path)
    clf = SentimentClassifier(model, tok, data.classes, config)
    test = clf.evaluate(data.test.texts, data.test.labels)
    metrics = {
        "task": TASK,
        "data": data.source,
        "classes": data.classes,
        "samples": {"train": len(data.train), "validation": len(data.validation), "test": len(data.test)},
        "epochs": config.epochs,
        "resumed_from_epoch": start,
        "train_seconds_this_session": round(seconds, 1),
        "kernels": sorted(
            {str(getattr(r, "last_kernel", "")) for r in model.modules() if hasattr(r, "last_kernel")} - {""}
        ),
        "parameters": model.count_params(),
        **{f"test_{k}": v for k, v in test.items()},
    }
    rundir.write_json_atomic(run.file(rundir.METRICS_FILE), metrics)
    return metrics


# -------------------------------------------------------------------- prediction
@dataclass(frozen=True)
class Prediction:
    label: str
    probabilities: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "probabilities": self.probabilities}


class SentimentClassifier:
    """A trained classifier: ``predict(texts)`` -> labels and class probabilities."""

    def __init__(
        self, model: SentimentNet, tokenizer: Tokenizer, classes: Sequence[str], config: SentimentConfig
    ) -> None:
        self.model, self.tokenizer, self.classes, self.config = model, tokenizer, list(classes), config
        self.model.eval()

    @classmethod
    def load(cls, path: str | Path) -> SentimentClassifier:
        run = rundir.open_run(path, TASK)
        if not run.model_path.exists():
            raise DataError(
                f"run directory {str(run.path)!r} has no trained model yet ({rundir.MODEL_FILE})."
            )
        model = load_model(run.model_path, compile=False)
        tok = load_tokenizer(run.file(rundir.TOKENIZER_FILE))
        metrics_path = run.file(rundir.METRICS_FILE)
        import json

        classes = (
            json.loads(metrics_path.read_text(encoding="utf-8"))["classes"] if metrics_path.exists() else None
        )
        config = SentimentConfig.from_dict(run.config)
        if classes is None:
            classes = [str(i) for i in range(model.head.units)]
        return cls(model, tok, classes, config)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Ids per text; empty texts and texts with no known word are refused, naming the text."""
        if isinstance(texts, str):
            texts = [texts]
        out = []
        for i, text in enumerate(texts):
            where = "" if len(texts) == 1 else f" (text {i + 1})"
            if not text.strip():
                raise DataError(f"text is empty{where}: give at least one word.")
            ids = self.tokenizer.encode(text)[: self.config.maxlen]
            if not ids or all(t == 1 for t in ids):
                shown = text if len(text) <= 40 else text[:37] + "..."
                raise DataError(
                    f"text {shown!r}{where} has no word the model knows: "
                    "all of its words are out of vocabulary."
                )
            out.append(ids)
        return out

    @torch.no_grad()
    def probabilities(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(N, C) class probabilities, in the order of ``texts``."""
        seqs = self.encode(texts)
        probs = np.zeros((len(seqs), len(self.classes)), dtype=np.float64)
        batches = BucketedBatches(seqs, np.zeros(len(seqs)), batch_size, shuffle=False, trim=False)
        for idx, (x, _) in zip(batches.batch_indices(), batches, strict=True):
            probs[idx] = torch.softmax(self.model(x).float(), dim=-1).numpy()
        return probs

    def predict(self, texts: str | Sequence[str]) -> list[Prediction]:
        """Label and probabilities per text (a single string gives a list of one)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        probs = self.probabilities(texts)
        return [
            Prediction(
                self.classes[int(p.argmax())], {c: float(v) for c, v in zip(self.classes, p, strict=True)}
            )
            for p in probs
        ]

    def evaluate(self, texts: Sequence[str], labels: Sequence[int] | np.ndarray) -> dict[str, float]:
        """Accuracy and macro-F1 (texts with no known word are predicted from <unk> alone)."""
        seqs = encode_texts(self.tokenizer, texts, self.config.maxlen)
        labels = np.asarray(labels)
        batches = BucketedBatches(seqs, labels, 64, shuffle=False, trim=False)
        pred = np.zeros(len(seqs), dtype=np.int64)
        with torch.no_grad():
            for idx, (x, _) in zip(batches.batch_indices(), batches, strict=True):
                pred[idx] = self.model(x).argmax(-1).numpy()
        return {
            "accuracy": float((pred == labels).mean()),
            "macro_f1": macro_f1(labels, pred, len(self.classes)),
        }


def macro_f1(y: np.ndarray, pred: np.ndarray, num_classes: int) -> float:
    """Unweighted mean over classes of F1 = 2 TP / (2 TP + FP + FN)."""
    scores = []
    for c in range(num_classes):
        tp = int(((pred == c) & (y == c)).sum())
        denom = 2 * tp + int(((pred == c) & (y != c)).sum()) + int(((pred != c) & (y == c)).sum())
        scores.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(scores))
