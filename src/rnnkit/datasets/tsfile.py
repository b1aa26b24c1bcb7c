"""JapaneseVowels (UCI) from aeon's bundled ``.ts`` files, read by a small reader of our own.

aeon's own ``load_classification`` tries to download; its bundled files are plain
text in the sktime ``.ts`` format, which this module parses without importing aeon.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnkit.data.loaders import read_text
from rnnkit.datasets.registry import (
    DatasetInfo,
    SequenceClassificationDataset,
    package_dir,
    register,
    seeded_split,
)
from rnnkit.errors import DataError


def read_ts(path: str | Path) -> tuple[list[np.ndarray], list[str], dict[str, str]]:
    """Parse a ``.ts`` file: returns (series, labels, header).

    Each data line is ``dim1:dim2:...:label``, each dimension a comma-separated list of
    values; a series comes back as (T, D) float32 (time along the first axis, as the
    layers expect). ``?`` (missing) becomes NaN. Dimensions of unequal length are an error.
    """
    path = Path(path)
    header: dict[str, str] = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if line.lower() == "@data":
                in_data = True
            elif line.startswith("@"):
                key, _, value = line[1:].partition(" ")
                header[key.lower()] = value.strip()
            continue
        *dims, label = line.split(":")
        if not dims:
            raise DataError(f"{str(path)!r} line {lineno}: expected 'dim1:...:label', got {line[:40]!r}.")
        try:
            cols = [[float("nan") if v == "?" else float(v) for v in d.split(",")] for d in dims]
        except ValueError:
            raise DataError(f"{str(path)!r} line {lineno} has a value that is not a number.") from None
        if len({len(c) for c in cols}) != 1:
            raise DataError(f"{str(path)!r} line {lineno}: its dimensions have different lengths.")
        series.append(np.asarray(cols, dtype=np.float32).T)  # (D, T) -> (T, D)
        labels.append(label.strip())
    if not series:
        raise DataError(f"{str(path)!r} has no series after @data.")
    return series, labels, header


@register(
    DatasetInfo(
        name="japanese_vowels",
        task="sequence classification",
        description=(
            "UCI Japanese Vowels (Kudo et al. 1999): 9 male speakers saying /ae/, 12 LPC cepstrum "
            "coefficients per frame, 7-29 frames; classify the speaker. The standard split is "
            "270 train / 370 test; 30 seeded train series are held out as validation."
        ),
        license="UCI ML Repository (CC BY 4.0); package: BSD-3-Clause",
        source="PyPI aeon 1.6.0 (datasets/data/JapaneseVowels/*.ts)",
        size="640 series, 12 dimensions, length 7-29, 9 classes",
        splits={"train": 240, "validation": 30, "test": 370},
        requires="pip install --no-deps aeon==1.6.0",
    )
)
def load_japanese_vowels(info: DatasetInfo, variant: str | None = None) -> SequenceClassificationDataset:
    folder = package_dir("aeon", info.requires, info.name) / "datasets" / "data" / "JapaneseVowels"
    train_x, train_y, header = read_ts(folder / "JapaneseVowels_TRAIN.ts")
    test_x, test_y, _ = read_ts(folder / "JapaneseVowels_TEST.ts")
    classes = header.get("classlabel", "").split()[1:] or sorted(set(train_y))
    index = {c: i for i, c in enumerate(classes)}
    ytr = np.array([index[y] for y in train_y], dtype=np.int64)
    yte = np.array([index[y] for y in test_y], dtype=np.int64)
    tr, va, _ = seeded_split(len(train_x), info.splits["validation"], 0)
    return SequenceClassificationDataset(
        info,
        train=[train_x[i] for i in tr],
        train_labels=ytr[tr],
        validation=[train_x[i] for i in va],
        validation_labels=ytr[va],
        test=test_x,
        test_labels=yte,
        classes=classes,
    )
