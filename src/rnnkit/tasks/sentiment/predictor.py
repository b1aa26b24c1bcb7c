"""A trained sentiment run: ``SentimentClassifier.load(run_dir).predict(texts)``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.config import choice
from rnnkit.data import UNK_ID, Tokenizer, load_tokenizer
from rnnkit.errors import DataError
from rnnkit.models import load_model
from rnnkit.tasks import runs
from rnnkit.tasks.sentiment.config import SentimentConfig
from rnnkit.tasks.sentiment.data import BucketedBatches, encode_texts, load_sentiment_data
from rnnkit.tasks.sentiment.model import SentimentNet

TASK = "sentiment"


@dataclass(frozen=True)
class Prediction:
    label: str
    probabilities: dict[str, float]
    # False when no word of the text is in the vocabulary: the label then comes from <unk> alone.
    known_words: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "probabilities": self.probabilities, "known_words": self.known_words}


class SentimentClassifier:
    """A trained classifier: ``predict(texts)`` -> labels and class probabilities."""

    def __init__(
        self, model: SentimentNet, tokenizer: Tokenizer, classes: Sequence[str], config: SentimentConfig
    ) -> None:
        self.model, self.tokenizer, self.classes, self.config = model, tokenizer, list(classes), config
        self.model.eval()

    @classmethod
    def load(cls, path: str | Path) -> SentimentClassifier:
        run = runs.open_trained_run(path, TASK)
        model = load_model(run.model_path, compile=False)
        tok = load_tokenizer(run.file(runs.TOKENIZER_FILE))
        metrics_path = run.file(runs.METRICS_FILE)
        classes = (
            json.loads(metrics_path.read_text(encoding="utf-8"))["classes"] if metrics_path.exists() else None
        )
        config = SentimentConfig.from_dict(run.config)
        if classes is None:
            classes = [str(i) for i in range(model.head.units)]
        return cls(model, tok, classes, config)

    def describe(self) -> dict[str, Any]:
        """What ``/api/runs`` shows about this run."""
        return {"classes": list(self.classes)}

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Ids per text (a text of unknown words is <unk> ids); an empty text is refused, naming it."""
        if isinstance(texts, str):
            texts = [texts]
        out = []
        for i, text in enumerate(texts):
            where = "" if len(texts) == 1 else f" (text {i + 1})"
            if not text.strip():
                raise DataError(f"text is empty{where}: give at least one word.")
            out.append(self.tokenizer.encode(text)[: self.config.maxlen] or [UNK_ID])
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
        seqs = self.encode(texts)
        probs = self.probabilities(texts)
        return [
            Prediction(
                self.classes[int(p.argmax())],
                {c: float(v) for c, v in zip(self.classes, p, strict=True)},
                known_words=any(t != UNK_ID for t in ids),
            )
            for p, ids in zip(probs, seqs, strict=True)
        ]

    def evaluate(
        self, texts: str | Sequence[str] = "test", labels: Sequence[int] | np.ndarray | None = None
    ) -> dict[str, float]:
        """Accuracy and macro-F1 of ``texts`` against ``labels``, or of the run's split ``texts``
        ("train", "validation", "test"; ``rnnkit evaluate``). Texts with no known word are
        predicted from <unk> alone."""
        if isinstance(texts, str):
            if labels is not None:
                raise DataError("give texts as a list of strings when labels are given.")
            split = choice("split", texts, ("train", "validation", "test"))
            part = getattr(load_sentiment_data(self.config), split)
            texts, labels = part.texts, part.labels
        if labels is None:
            raise DataError("labels are needed to evaluate texts: one class id per text.")
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
