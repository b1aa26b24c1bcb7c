"""Loaders for standard on-disk formats: CSV/TSV/JSONL tables, text files and folders,
the ``aclImdb`` pos/neg layout, and a folder of wav files with a transcript file.

Text decoding policy (one place, :func:`read_text`): files are UTF-8 (a BOM is
ignored). Bytes that are not UTF-8 raise :class:`DataError` naming the file, the line
and the byte offset, by default, because silently mangled text trains a silently
worse model. Pass ``encoding_errors="replace"`` to substitute U+FFFD instead; the
number of replaced characters is then logged as a warning.

Only the standard library, numpy and rnnkit.errors are used here: the loaders work
without pandas.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data.timeseries import check_numeric, listed
from rnnkit.errors import ConfigError, DataError, invalid

logger = logging.getLogger(__name__)

ENCODING_ERRORS = ("strict", "replace")
TABLE_FORMATS = ("csv", "tsv", "jsonl")


@dataclass
class LabeledTexts:
    """Texts with integer labels; ``classes[labels[i]]`` is the name of text i's label."""

    texts: list[str]
    labels: np.ndarray
    classes: list[str]
    # The file line each text was read from (the header is line 1), for messages; None when
    # the texts came from elsewhere.
    lines: list[int] | None = None

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class Series:
    """A time series read from a table: ``values`` (T, K) float64 in ``columns`` order, oldest first."""

    dates: np.ndarray
    values: np.ndarray
    columns: list[str]

    def __len__(self) -> int:
        return len(self.values)

    def column(self, name: str) -> np.ndarray:
        return self.values[:, _index_of(name, self.columns, "column")]


@dataclass
class AudioClips:
    """Mono waveforms (float32 in [-1, 1]) with their transcripts."""

    waves: list[np.ndarray]
    transcripts: list[str]
    sample_rate: int
    paths: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.waves)


def _index_of(name: str, names: Sequence[str], what: str) -> int:
    if name not in names:
        raise DataError(f"{what} {name!r} not found: the columns are {', '.join(repr(c) for c in names)}.")
    return list(names).index(name)


def read_text(path: str | Path, *, encoding_errors: str = "strict") -> str:
    """Read a UTF-8 text file according to the module's decoding policy."""
    if encoding_errors not in ENCODING_ERRORS:
        raise ConfigError(invalid("encoding_errors", encoding_errors, ENCODING_ERRORS))
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {str(path)!r}.")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if encoding_errors == "strict":
            line = raw[: exc.start].count(b"\n") + 1
            raise DataError(
                f"{str(path)!r} is not valid UTF-8: byte {raw[exc.start]:#04x} at offset {exc.start} "
                f"(line {line}). Convert the file to UTF-8, or pass encoding_errors='replace'."
            ) from None
    text = raw.decode("utf-8-sig", errors="replace")
    logger.warning("%s: replaced %d undecodable byte sequence(s) with U+FFFD", path, text.count("\ufffd"))
    return text


def read_table(
    path: str | Path, *, format: str | None = None, encoding_errors: str = "strict"
) -> dict[str, list[str]]:
    """Read a CSV, TSV or JSONL file into ``{column: [values as str]}``.

    The format comes from the suffix (.csv, .tsv/.tab, .jsonl/.ndjson) unless given.
    Missing JSONL keys become "". An empty file, or one with a header and no rows,
    raises :class:`DataError`.
    """
    return _read_table(path, format=format, encoding_errors=encoding_errors)[0]


def _lines(numbers: Sequence[object], idx: Sequence[int], limit: int = 10) -> str:
    """ "lines 3, 7 and 2 more": where rows ``idx`` are in the file, as an editor numbers them."""
    return f"{'line' if len(idx) == 1 else 'lines'} {listed(numbers, idx, limit)}"


def _read_table(
    path: str | Path, *, format: str | None = None, encoding_errors: str = "strict"
) -> tuple[dict[str, list[str]], list[int]]:
    """:func:`read_table` and the file line of each row (1-based, the header is line 1): every
    message about a row names the line an editor or a spreadsheet shows for it."""
    path = Path(path)
    if format is None:
        suffix = path.suffix.lower().lstrip(".")
        format = {"tab": "tsv", "ndjson": "jsonl", "txt": "tsv"}.get(suffix, suffix)
    if format not in TABLE_FORMATS:
        raise ConfigError(invalid("format", format, TABLE_FORMATS))
    text = read_text(path, encoding_errors=encoding_errors)
    if not text.strip():
        raise DataError(f"{str(path)!r} is empty.")
    if format == "jsonl":
        records = []
        lines: list[int] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            lines.append(lineno)
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{str(path)!r} line {lineno} is not valid JSON: {exc.msg}.") from None
            if not isinstance(rec, dict):
                raise DataError(f"{str(path)!r} line {lineno} is not a JSON object.")
            records.append(rec)
        columns = list(dict.fromkeys(k for rec in records for k in rec))
        table = {c: ["" if rec.get(c) is None else str(rec.get(c)) for rec in records] for c in columns}
    else:
        reader = csv.reader(io.StringIO(text), delimiter="," if format == "csv" else "\t")
        header = next(reader)
        rows, lines, end = [], [], reader.line_num
        for r in reader:  # a quoted cell may span lines: a row starts after the last one ended
            start, end = end + 1, reader.line_num
            if not r:
                continue  # a blank line
            if len(r) != len(header):
                raise DataError(
                    f"{str(path)!r} line {start} has {len(r)} fields but the header has {len(header)}."
                )
            rows.append(r)
            lines.append(start)
        table = {c: [r[j] for r in rows] for j, c in enumerate(header)}
    if not table or not next(iter(table.values())):
        raise DataError(f"{str(path)!r} has no data rows.")
    return table, lines


def _column(table: dict[str, list[str]], name: str, path: Path) -> list[str]:
    if name not in table:
        names = ", ".join(repr(c) for c in table)
        raise DataError(f"column {name!r} not found in {str(path)!r}: the columns are {names}.")
    return table[name]


def load_text_classification(
    path: str | Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    classes: Sequence[str] | None = None,
    format: str | None = None,
    encoding_errors: str = "strict",
) -> LabeledTexts:
    """Texts and labels from a CSV/TSV/JSONL file. ``classes`` fixes the label order
    (default: sorted label values); a label outside ``classes`` is an error naming the row."""
    path = Path(path)
    table, lines = _read_table(path, format=format, encoding_errors=encoding_errors)
    texts = _column(table, text_column, path)
    raw = [v.strip() for v in _column(table, label_column, path)]
    names = list(classes) if classes is not None else sorted(set(raw))
    index = {c: i for i, c in enumerate(names)}
    unknown = [i for i, v in enumerate(raw) if v not in index]
    if unknown:
        raise DataError(
            f"column {label_column!r} of {str(path)!r} has labels outside classes={names}, at "
            f"{_lines(lines, unknown)} ({raw[unknown[0]]!r}...)."
        )
    return LabeledTexts(texts, np.array([index[v] for v in raw], dtype=np.int64), names, lines)


def load_series(
    path: str | Path,
    *,
    date_column: str,
    target: str | Sequence[str],
    covariates: Sequence[str] = (),
    format: str | None = None,
) -> Series:
    """A time series from a table: dates parsed, rows sorted by date, values checked.

    ``values`` holds the target column(s) first, then the covariates. Unparseable dates,
    duplicate dates and non-numeric or missing values raise :class:`DataError` naming
    their lines in the file (the header is line 1) or their dates.
    """
    path = Path(path)
    table, lines = _read_table(path, format=format)
    targets = [target] if isinstance(target, str) else list(target)
    columns = targets + [c for c in covariates if c not in targets]
    raw_dates = _column(table, date_column, path)
    for c in columns:
        _column(table, c, path)
    dates = np.empty(len(raw_dates), dtype="datetime64[s]")
    bad = []
    for i, d in enumerate(raw_dates):
        try:
            dates[i] = np.datetime64(d.strip().rstrip("Z"), "s")
        except ValueError:
            bad.append(i)
    if bad:
        shown = _lines([f"{n} ({d!r})" for n, d in zip(lines, raw_dates, strict=True)], bad)
        raise DataError(
            f"column {date_column!r} of {str(path)!r} has {len(bad)} unparseable date(s), at {shown}."
        )
    order = np.argsort(dates, kind="stable")
    if (order != np.arange(len(order))).any():
        logger.warning("%s: rows were not in date order; sorted them by %r", path, date_column)
    dates = dates[order]
    dup = np.flatnonzero(dates[1:] == dates[:-1])
    if len(dup):
        raise DataError(
            f"column {date_column!r} has duplicate dates: {', '.join(str(dates[i]) for i in dup[:10])}."
        )
    values = np.empty((len(dates), len(columns)), dtype=np.float64)
    labels = [str(d) for d in dates]
    for j, c in enumerate(columns):
        col = [table[c][i].strip() for i in order]
        # "" and "NA" are missing values: turn them into NaN so check_numeric names their rows.
        col_values = [("nan" if v in ("", "NA", "NaN", "null") else v) for v in col]
        values[:, j] = check_numeric(
            np.array(col_values, dtype=object), f"column {c!r} of {str(path)!r}", labels
        )
    return Series(dates, values, columns)


def load_text_file(path: str | Path, *, encoding_errors: str = "strict") -> str:
    """One text file as a string (for a language model). An empty file is an error."""
    text = read_text(path, encoding_errors=encoding_errors)
    if not text.strip():
        raise DataError(f"{str(path)!r} is empty.")
    return text


def load_text_folder(
    folder: str | Path, *, pattern: str = "*.txt", encoding_errors: str = "strict"
) -> dict[str, str]:
    """All files matching ``pattern`` under ``folder`` (recursively), ``{relative path: text}``, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"folder not found: {str(folder)!r}.")
    files = sorted(p for p in folder.rglob(pattern) if p.is_file())
    if not files:
        raise DataError(f"no files matching {pattern!r} in {str(folder)!r}.")
    return {str(p.relative_to(folder)): read_text(p, encoding_errors=encoding_errors) for p in files}


def load_aclimdb(root: str | Path, split: str = "train", *, encoding_errors: str = "strict") -> LabeledTexts:
    """The ``aclImdb`` layout: ``root/{train,test}/{neg,pos}/*.txt``; label 0 = neg, 1 = pos.

    Files are read in sorted order so the result is the same on every machine; the
    HTML line breaks (``<br />``) of the original reviews become spaces.
    """
    if split not in ("train", "test"):
        raise ConfigError(invalid("split", split, ("train", "test")))
    base = Path(root) / split
    texts: list[str] = []
    labels: list[int] = []
    for label, sub in enumerate(("neg", "pos")):
        folder = base / sub
        if not folder.is_dir():
            raise DataError(f"{str(folder)!r} not found: an aclImdb folder has {split}/neg and {split}/pos.")
        for p in sorted(folder.glob("*.txt")):
            texts.append(clean_html_breaks(read_text(p, encoding_errors=encoding_errors)))
            labels.append(label)
    if not texts:
        raise DataError(f"no .txt reviews under {str(base)!r}.")
    return LabeledTexts(texts, np.array(labels, dtype=np.int64), ["neg", "pos"])


def clean_html_breaks(text: str) -> str:
    return text.replace("<br />", " ").replace("<br/>", " ").replace("<br>", " ").strip()


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """A PCM wav file as (float32 mono waveform in [-1, 1], sample rate). Stereo is averaged."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise DataError(f"{str(path)!r} is not a readable PCM wav file: {exc}.") from None
    audio: np.ndarray
    if width == 1:  # 8-bit wav is unsigned
        audio = (np.frombuffer(frames, dtype=np.uint8).astype(np.float32) - 128) / 128
    elif width in (2, 4):
        dtype = np.int16 if width == 2 else np.int32
        audio = np.frombuffer(frames, dtype=dtype).astype(np.float32) / float(np.iinfo(dtype).max)
    else:
        raise DataError(f"{str(path)!r} has {8 * width}-bit samples: only 8, 16 and 32-bit PCM are read.")
    audio = audio.reshape(-1, channels).mean(axis=1)  # (frames * channels,) -> (frames,)
    return audio, rate


def load_wav_folder(
    folder: str | Path, *, transcripts: str = "transcripts.tsv", encoding_errors: str = "strict"
) -> AudioClips:
    """Wav files listed in a transcript file: one ``file<TAB>text`` line each (``file`` relative
    to ``folder``, with or without ``.wav``). All clips must share one sample rate."""
    folder = Path(folder)
    listing = folder / transcripts
    lines = [ln for ln in read_text(listing, encoding_errors=encoding_errors).splitlines() if ln.strip()]
    if not lines:
        raise DataError(f"{str(listing)!r} is empty.")
    waves, texts, paths = [], [], []
    rate = None
    for lineno, line in enumerate(lines, start=1):
        name, sep, text = line.partition("\t")
        if not sep:
            raise DataError(f"{str(listing)!r} line {lineno} has no tab: expected 'file<TAB>transcript'.")
        p = folder / (name if name.endswith(".wav") else name + ".wav")
        if not p.is_file():
            raise DataError(f"{str(listing)!r} line {lineno} names {name!r}, but {str(p)!r} does not exist.")
        audio, r = read_wav(p)
        if rate is not None and r != rate:
            raise DataError(f"{str(p)!r} has sample rate {r} Hz but earlier clips have {rate} Hz.")
        rate = r
        waves.append(audio)
        texts.append(text.strip())
        paths.append(p)
    return AudioClips(waves, texts, int(rate or 0), paths)
