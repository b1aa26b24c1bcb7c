"""The 371 Bach chorales of music21's corpus, as soprano tokens and as four voices.

``music21.corpus.chorales.Iterator()`` lists the chorales in Riemenschneider order
(371 numbers, 350 distinct files: 21 harmonisations are listed twice). Each file is
parsed once with music21 into

* ``tokens``: the soprano line as ``pitch_duration`` strings, e.g. ``"F#4_1.5"``
  (music21's spelling, ``-`` is a flat; duration in quarter notes; ``R`` is a rest),
  the sequence-modelling view;
* ``voices``: soprano, alto, tenor and bass as ``(midi_pitch, duration)`` events
  (``REST`` = -1), back to back from the first beat, which is what a MIDI writer needs;
  :meth:`Chorale.piano_roll` quantizes them to a fixed grid (sixteenth notes by default).

Choices, in one place: tied notes are merged into one event (``stripTies``), because a
held note is one musical event and the bar line is not part of the melody; a chord
inside one voice (rare divisi) keeps its highest note (lowest in the bass); notes that
overlap the line (a second voice written into the same part) and grace notes (no
duration) are dropped; a gap in a line becomes a rest; repeats are not expanded.

Tunes: the 371 chorales hold far fewer melodies, because Bach harmonised the same hymn tune
many times, sometimes under other texts ("Herzlich tut mich verlangen" = "O Haupt voll Blut
und Wunden" = "Befiehl du deine Wege"), and one text was sung to several tunes.
:func:`tune_groups` puts two chorales in one group when their soprano lines match
(:func:`same_melody`: transposition-invariant pitch intervals, repeated notes merged, a
``difflib`` similarity >= 0.8; the similarities are bimodal with a gap near 0.75) or when
their titles are equal once normalised; groups are the connected components. That gives
223 melodies, 201 groups with the titles. The ``chorales:tunes`` variant splits by group,
so every harmonisation of a tune is on one side; the default (``chorales:files``) keeps the
older split by file, in which 13 of the 37 test chorales share a tune with training ones.

Parsing everything takes about 30 s of CPU, so it runs in worker processes and the
result is cached as JSON in the user cache directory (``$RNNKIT_CACHE_DIR`` overrides
it), written atomically; ``_CACHE_VERSION`` is in the file name, so changing the format
ignores old caches.
"""

from __future__ import annotations

import difflib
import itertools
import json
import logging
import math
import os
import re
import subprocess
import sys
import time
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from rnnkit.datasets.registry import (
    SPLIT_SEED,
    DatasetInfo,
    TokenSequencesDataset,
    cache_dir,
    register,
    seeded_split,
)
from rnnkit.errors import ConfigError, DataError, MissingDependencyError, invalid
from rnnkit.utils.io import atomic_write_json

logger = logging.getLogger(__name__)

REST = -1  # the pitch of a rest in ``Chorale.voices`` and in piano rolls
VOICES = ("soprano", "alto", "tenor", "bass")
_PIP = "pip install 'rnnkit[music]'"
# Bump when the cached JSON changes shape or content: the old file is then ignored.
_CACHE_VERSION = "v2"  # v2: bar_offset
_EPS = 1e-6  # quarter-length tolerance: music21 offsets are floats or Fractions


@dataclass(frozen=True)
class Chorale:
    """One chorale: metadata, soprano tokens and the four voices.

    ``voices[v]`` is a list of ``(midi_pitch, duration)`` pairs for v in S, A, T, B,
    durations in quarter notes, rests as ``REST``; each voice starts at time 0.
    """

    number: int  # Riemenschneider number, 1..371
    file: str  # music21 corpus name, e.g. "bach/bwv269" (shared by the listed-twice chorales)
    title: str
    key: str  # from the key signature as written, e.g. "G major"
    time_signature: str  # e.g. "4/4"
    tokens: list[str]
    voices: list[list[tuple[int, float]]]
    # Where the first note falls in its bar, in quarter notes (2.0 for a one-beat pickup in 3/4).
    bar_offset: float = 0.0
    tune: int = -1  # the tune group (see tune_groups); -1 when not computed

    def piano_roll(self, step: float = 0.25, *, multi_hot: bool = False) -> np.ndarray:
        """The four voices on a grid of ``step`` quarter notes (0.25: sixteenths).

        Returns (T, 4) int16 MIDI pitches with ``REST`` for silence (the "JSB chorales"
        layout), or with ``multi_hot=True`` (T, 128) float32, 1 where a pitch sounds.
        Step t holds what sounds at time ``t * step`` (so a note shorter than ``step`` that
        falls between grid points vanishes: 10 of the 18,873 soprano notes last 0.125).
        T covers the longest voice.
        """
        if not step > 0:
            raise ConfigError(invalid("step", step, "a positive number of quarter notes"))
        ends = [sum(d for _, d in v) for v in self.voices]

        def grid(time: float) -> int:  # the first grid point at or after ``time``
            return math.ceil(time / step - _EPS)

        T = grid(max(ends))
        roll = np.full((T, len(self.voices)), REST, dtype=np.int16)
        for v, events in enumerate(self.voices):
            t = 0.0
            for pitch, dur in events:
                roll[grid(t) : grid(t + dur), v] = pitch
                t += dur
        if not multi_hot:
            return roll
        hot = np.zeros((T, 128), dtype=np.float32)
        steps, voice = np.nonzero(roll != REST)
        hot[steps, roll[steps, voice]] = 1.0
        return hot


@dataclass
class ChoralesDataset(TokenSequencesDataset):
    """Soprano token sequences per split (``train`` ...), plus the parsed chorales.

    ``chorales[split][i]`` is the :class:`Chorale` whose tokens are ``<split>[i]``;
    ``vocabulary`` is the sorted set of tokens over all splits (so no test token is
    out of vocabulary).
    """

    chorales: dict[str, list[Chorale]] = field(default_factory=dict)


def _duration_text(quarters: float) -> str:
    # "1.5", "0.25", "2.0"; triplets (1/3) keep 4 decimals so the vocabulary stays finite.
    return str(round(quarters, 4))


def _line(part: Any, lowest: bool) -> tuple[list[tuple[int, float]], list[str]]:
    """A part as a monophonic line: (midi, duration) events and ``pitch_duration`` tokens."""
    events: list[tuple[int, float]] = []
    tokens: list[str] = []
    end = 0.0
    # stripTies: a tied note is one event (in place: the copy would cost 60% of the parse);
    # flatten: measure-relative offsets -> absolute.
    part.stripTies(inPlace=True)
    for el in part.flatten().notesAndRests:
        dur = float(el.quarterLength)
        start = float(el.offset)
        if dur <= 0 or start < end - _EPS:  # grace note, or a second voice in the part
            continue
        if start > end + _EPS:  # a hole in the line (hidden rest): make it explicit
            events.append((REST, start - end))
            tokens.append("R_" + _duration_text(start - end))
        if el.isRest:
            pitch, name = REST, "R"
        else:
            pitches = sorted(el.pitches, key=lambda p: p.midi)
            chosen = pitches[0] if lowest else pitches[-1]
            pitch, name = int(chosen.midi), chosen.nameWithOctave
        events.append((pitch, dur))
        tokens.append(f"{name}_{_duration_text(dur)}")
        end = start + dur
    return events, tokens


def _satb_parts(score: Any, file: str) -> list[Any]:
    """The S, A, T, B parts: by name (some files add instruments), else the only four."""
    parts = list(score.parts)
    by_name: dict[str, Any] = {}
    for p in parts:
        name = (p.partName or "").strip().lower()
        for voice in VOICES:
            if name.startswith(voice) and voice not in by_name:
                by_name[voice] = p
    if len(by_name) == 4:
        return [by_name[v] for v in VOICES]
    if len(parts) == 4:  # three files have unnamed parts, in S, A, T, B order
        return parts
    names = [p.partName for p in parts]
    raise DataError(f"chorale {file!r}: cannot find soprano, alto, tenor and bass among the parts {names}.")


def parse_chorale(file: str) -> dict[str, Any]:
    """Parse one corpus file (e.g. ``"bach/bwv269"``) into the JSON-able cache record."""
    from music21 import corpus, key, meter

    # forceSource: parse the MusicXML directly; music21 would otherwise also pickle each score
    # into its scratch folder, which costs more than the parse (0.12 s vs 0.04 s a file).
    score = corpus.parse(file, forceSource=True)
    parts = _satb_parts(score, file)
    lines = [_line(p, lowest=(v == "bass")) for p, v in zip(parts, VOICES, strict=True)]
    ks = parts[0].recurse().getElementsByClass(key.KeySignature).first()
    k = ks if isinstance(ks, key.Key) else (ks.asKey("major") if ks is not None else None)
    ts = parts[0].recurse().getElementsByClass(meter.TimeSignature).first()
    first_bar = parts[0].getElementsByClass("Measure").first()
    return {
        "file": file,
        "key": f"{k.tonic.name} {k.mode}" if k is not None else "",
        "time_signature": ts.ratioString if ts is not None else "",
        # paddingLeft: the quarter notes missing before a pickup bar's first note.
        "bar_offset": float(first_bar.paddingLeft) if first_bar is not None else 0.0,
        "tokens": lines[0][1],
        "voices": [events for events, _ in lines],
    }


def _worker_main() -> None:
    """Entry point of a parsing worker: corpus names (JSON list) in argv[1], records on stdout."""
    out, sys.stdout = sys.stdout, sys.stderr  # anything a library prints must not corrupt the JSON
    records = [parse_chorale(f) for f in json.loads(sys.argv[1])]
    json.dump(records, out)


def _parse_in_workers(files: list[str], workers: int) -> dict[str, dict[str, Any]]:
    """Parse ``files`` in ``workers`` fresh interpreters, round-robin.

    music21 parsing is pure Python (GIL-bound), so it needs processes. They are plain
    ``python -c`` subprocesses rather than a multiprocessing pool: "fork" is unsafe once torch
    is imported, and "spawn" re-runs the caller's ``__main__``, which breaks scripts that call
    ``load("chorales")`` without an ``if __name__ == "__main__"`` guard.
    """
    code = "from rnnkit.datasets.chorales import _worker_main; _worker_main()"
    chunks = [files[w::workers] for w in range(workers)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(chunk)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        for chunk in chunks
    ]
    parsed: dict[str, dict[str, Any]] = {}
    for proc, chunk in zip(procs, chunks, strict=True):
        out, err = proc.communicate()  # all were started above: the others keep running meanwhile
        if proc.returncode != 0:
            tail = " | ".join(err.strip().splitlines()[-3:])
            raise DataError(f"dataset 'chorales': a music21 parsing worker failed: {tail}")
        parsed.update(zip(chunk, json.loads(out), strict=True))
    return parsed


def _build(path: Any) -> list[dict[str, Any]]:
    try:
        from music21 import corpus
    except ImportError:
        raise MissingDependencyError(
            f"dataset 'chorales' needs the Python package 'music21': {_PIP}."
        ) from None
    files = [str(f) for f in corpus.chorales.Iterator(returnType="filename")]
    # The files carry no title; the Iterator takes it from this list, by Riemenschneider number.
    listing = corpus.chorales.ChoraleListRKBWV().byRiemenschneider
    titles = [str(listing[i]["title"]) for i in range(1, len(files) + 1)]
    distinct = sorted(set(files))
    workers = max(1, min(4, os.cpu_count() or 1, len(distinct)))
    start = time.perf_counter()
    parsed = _parse_in_workers(distinct, workers)
    records = [
        {"number": i, "title": title, **parsed[f]}
        for i, (f, title) in enumerate(zip(files, titles, strict=True), start=1)
    ]
    # Atomic, so a parallel test worker never reads a half-written cache.
    atomic_write_json(path, {"version": _CACHE_VERSION, "chorales": records}, indent=None, ensure_ascii=True)
    logger.info(
        "chorales: parsed %d files with %d processes in %.1f s, cached in %s",
        len(distinct),
        workers,
        time.perf_counter() - start,
        path,
    )
    return records


def load_records() -> list[dict[str, Any]]:
    """The parsed chorales as cached JSON records (parsing and caching them the first time)."""
    path = cache_dir("chorales") / f"chorales-{_CACHE_VERSION}.json"
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") == _CACHE_VERSION:
            return list(data["chorales"])
        logger.info("chorales: cache %s has another version, parsing again", path)
    return _build(path)


def _to_chorale(r: dict[str, Any]) -> Chorale:
    voices = [[(int(p), float(d)) for p, d in v] for v in r["voices"]]
    return Chorale(
        r["number"],
        r["file"],
        r["title"],
        r["key"],
        r["time_signature"],
        list(r["tokens"]),
        voices,
        float(r.get("bar_offset", 0.0)),
    )


# --- tunes ------------------------------------------------------------------------------------
MELODY_SIMILARITY = 0.8  # same tune at or above; the corpus's similarities have a gap near 0.75


def _intervals(chorale: Chorale) -> list[int]:
    """The soprano as semitone steps between successive distinct pitches (rests skipped):
    invariant to transposition and to how a harmonisation splits or ties a note."""
    pitches = [p for p, _ in chorale.voices[0] if p != REST]
    merged = [p for i, p in enumerate(pitches) if i == 0 or p != pitches[i - 1]]
    return [b - a for a, b in itertools.pairwise(merged)]


def same_melody(a: Chorale, b: Chorale, threshold: float = MELODY_SIMILARITY) -> bool:
    """Whether two chorales sing the same tune: ``difflib`` ratio of their interval lines."""
    return _similar(difflib.SequenceMatcher(None, _intervals(a), _intervals(b), autojunk=False), threshold)


def _similar(sm: difflib.SequenceMatcher[int], threshold: float) -> bool:
    # The quick ratios are upper bounds of ratio(): most pairs stop there, cheaply.
    return sm.real_quick_ratio() >= threshold and sm.quick_ratio() >= threshold and sm.ratio() >= threshold


def normalized_title(title: str) -> str:
    """Lower case ASCII letters and single spaces: "Ach Gott, vom Himmel sieh’ darein" and
    "Ach Gott vom Himmel sieh darein" compare equal."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z]+", " ", ascii_text).strip()


def tune_groups(chorales: list[Chorale], *, use_titles: bool = True) -> list[int]:
    """A tune id per chorale (0, 1, ... in order of first appearance): connected components of
    "same melody" (:func:`same_melody`) or, with ``use_titles``, "same normalised title"."""
    n = len(chorales)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    first_of: dict[str, int] = {}  # chorales listed twice share a file: compare each file once
    for i, c in enumerate(chorales):
        if c.file in first_of:
            union(i, first_of[c.file])
        else:
            first_of[c.file] = i
    files = list(first_of.values())
    intervals = {i: _intervals(chorales[i]) for i in files}
    for a, i in enumerate(files):
        sm = difflib.SequenceMatcher(None, autojunk=False)
        sm.set_seq2(intervals[i])  # seq2 is the one difflib indexes: set it once per row
        for j in files[a + 1 :]:
            sm.set_seq1(intervals[j])
            if _similar(sm, MELODY_SIMILARITY):
                union(i, j)
    if use_titles:
        by_title: dict[str, int] = {}
        for i, c in enumerate(chorales):
            union(i, by_title.setdefault(normalized_title(c.title), i))
    ids: dict[int, int] = {}
    return [ids.setdefault(find(i), len(ids)) for i in range(n)]


def grouped_split(
    groups: list[int], validation: int, test: int, *, seed: int = SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train/validation/test indices with exact sizes in which no group straddles two splits.

    Groups are visited in a seeded random order and each goes whole to test while it fits,
    then to validation while it fits, else to train (singletons fill the last places).
    """
    rng = np.random.default_rng(seed)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    order = [list(members)[k] for k in rng.permutation(len(members))]
    test_idx: list[int] = []
    val_idx: list[int] = []
    train_idx: list[int] = []
    for g in order:
        rows = members[g]
        if len(test_idx) + len(rows) <= test:
            test_idx += rows
        elif len(val_idx) + len(rows) <= validation:
            val_idx += rows
        else:
            train_idx += rows
    if len(test_idx) != test or len(val_idx) != validation:
        raise DataError(
            f"cannot fill a test split of {test} and a validation split of {validation} with whole groups "
            f"(got {len(test_idx)} and {len(val_idx)})."
        )
    return np.array(train_idx), np.array(val_idx), np.array(test_idx)


def shared_tunes(train: list[Chorale], test: list[Chorale]) -> int:
    """How many ``test`` chorales sing a tune that some ``train`` chorale also sings."""
    seen = {c.tune for c in train}
    return sum(c.tune in seen for c in test)


@register(
    DatasetInfo(
        name="chorales",
        task="music: symbolic sequence modelling",
        description=(
            "The 371 four-part Bach chorales of music21's corpus (Riemenschneider order; 350 distinct "
            "files, the 21 chorales listed twice are kept in train). Sequences are the soprano line "
            "as pitch_duration tokens (ties merged, durations in quarter notes, R = rest); each "
            "chorale also keeps its four voices as (MIDI pitch, duration) events and gives a "
            "sixteenth-note piano roll. Seeded split; 'chorales:tunes' splits by tune (201 groups "
            "of harmonisations of one melody or one title), so no test tune is in train. First load "
            "parses with music21 (about a minute on 2 cores), then cached."
        ),
        license=(
            "music public domain (J. S. Bach); encodings (c) 2004 Margaret Greentree, used by "
            "permission, distributed with music21 (code BSD-3-Clause; its corpus/license.txt: "
            "some encodings may restrict commercial use)"
        ),
        source="PyPI music21 (corpus/bach via music21.corpus.chorales.Iterator())",
        size="371 chorales (350 distinct), 18,873 soprano tokens, vocabulary 194",
        splits={"train": 297, "validation": 37, "test": 37},
        requires=_PIP,
        variants=("files", "tunes"),
        default_variant="files",
        slow=True,
    )
)
def load_chorales(info: DatasetInfo, variant: str | None = None) -> ChoralesDataset:
    chorales = [_to_chorale(r) for r in load_records()]
    tunes = tune_groups(chorales)  # ~1.5 s: the quick ratios skip most of the 61k pairs
    chorales = [replace(c, tune=t) for c, t in zip(chorales, tunes, strict=True)]
    if variant == "tunes":
        tr, va, te = grouped_split(tunes, info.splits["validation"], info.splits["test"])
    else:
        tr, va, te = seeded_split(
            len(chorales),
            info.splits["validation"],
            info.splits["test"],
            groups=[c.file for c in chorales],  # a chorale listed twice never straddles train and test
        )
    parts = {
        name: [chorales[i] for i in idx]
        for name, idx in zip(("train", "validation", "test"), (tr, va, te), strict=True)
    }
    vocabulary = sorted({t for c in chorales for t in c.tokens})
    return ChoralesDataset(
        info,
        train=[c.tokens for c in parts["train"]],
        validation=[c.tokens for c in parts["validation"]],
        test=[c.tokens for c in parts["test"]],
        vocabulary=vocabulary,
        chorales=parts,
    )
