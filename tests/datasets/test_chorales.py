"""Bach chorales: line extraction and piano roll on small hand-made pieces, the cache, and the
real load (music21; parsed once, ~20-40 s cold on 2 cores, then read from the user cache)."""

import json
import sys

import numpy as np
import pytest

from rnnkit import datasets
from rnnkit.datasets import chorales
from rnnkit.datasets.chorales import REST, Chorale
from rnnkit.errors import ConfigError, DataError, MissingDependencyError

MISSING = r"^dataset 'chorales' needs the Python package 'music21': pip install 'rnnkit\[music\]'\.$"


def _chorale(voices):
    return Chorale(1, "bach/x", "t", "C major", "4/4", [], voices)


def test_piano_roll_on_a_grid_of_sixteenths():
    c = _chorale([[(72, 1.0), (REST, 0.5), (74, 0.5)], [(60, 2.0)], [(55, 1.5), (57, 0.5)], [(48, 2.0)]])
    roll = c.piano_roll()
    assert roll.shape == (8, 4) and roll.dtype == np.int16
    assert roll[:, 0].tolist() == [72, 72, 72, 72, REST, REST, 74, 74]
    assert roll[:, 2].tolist() == [55] * 6 + [57] * 2
    hot = c.piano_roll(multi_hot=True)
    assert hot.shape == (8, 128) and hot.sum(axis=1).tolist() == [4, 4, 4, 4, 3, 3, 4, 4]
    assert hot[0, [72, 60, 55, 48]].tolist() == [1, 1, 1, 1]
    assert c.piano_roll(step=0.75)[:, 0].tolist() == [72, 72, 74]  # what sounds at 0, 0.75, 1.5
    with pytest.raises(ConfigError, match=r"^step=0 is not valid: expected a positive number"):
        c.piano_roll(step=0)


def test_line_merges_ties_keeps_top_of_chords_and_fills_gaps():
    music21 = pytest.importorskip("music21")
    note, chord, stream, tie = music21.note, music21.chord, music21.stream, music21.tie
    part = stream.Part()
    a, b = note.Note("G4", quarterLength=1.0), note.Note("G4", quarterLength=2.0)
    a.tie, b.tie = tie.Tie("start"), tie.Tie("stop")
    part.insert(0.0, a)
    part.insert(1.0, b)  # tied: one G4 of 3 quarters
    grace = note.Note("A4").getGrace()
    part.insert(3.0, grace)  # no duration: dropped
    part.insert(3.0, chord.Chord(["C5", "E5"], quarterLength=0.5))  # divisi: top note E5
    part.insert(4.0, note.Note("B-4", quarterLength=1.0))  # a 0.5 gap before it becomes a rest
    events, tokens = chorales._line(part, lowest=False)
    assert tokens == ["G4_3.0", "E5_0.5", "R_0.5", "B-4_1.0"]
    assert events == [(67, 3.0), (76, 0.5), (REST, 0.5), (70, 1.0)]
    assert chorales._line(part, lowest=True)[1][1] == "C5_0.5"  # the bass keeps the lowest note


def test_missing_music21_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))  # no cache: the load must parse
    monkeypatch.setitem(sys.modules, "music21", None)  # makes `import music21` fail
    with pytest.raises(MissingDependencyError, match=MISSING):
        datasets.load("chorales")


def test_cache_is_read_only_with_its_version(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "music21", None)  # proves a hit needs no music21
    path = tmp_path / "chorales" / f"chorales-{chorales._CACHE_VERSION}.json"
    path.parent.mkdir()
    record = {"number": 1, "title": "t", "file": "bach/x", "key": "G major", "time_signature": "3/4"}
    record |= {"tokens": ["G4_1.0"], "voices": [[[67, 1.0]], [[62, 1.0]], [[59, 1.0]], [[43, 1.0]]]}
    path.write_text(json.dumps({"version": chorales._CACHE_VERSION, "chorales": [record]}))
    assert chorales.load_records() == [record]
    path.write_text(json.dumps({"version": "v0", "chorales": [record]}))  # an older format
    with pytest.raises(MissingDependencyError, match=MISSING):  # ignored: it parses again
        chorales.load_records()


@pytest.mark.slow
def test_chorales_load_with_expected_counts():
    pytest.importorskip("music21", reason="needs the music extra: pip install 'rnnkit[music]'")
    ds = datasets.load("chorales")  # builds the cache on the first run (~20-40 s on 2 cores)
    assert ds.splits == ds.info.splits == {"train": 297, "validation": 37, "test": 37}
    every = [c for split in ("train", "validation", "test") for c in ds.chorales[split]]
    assert sorted(c.number for c in every) == list(range(1, 372))
    assert len({c.file for c in every}) == 350  # 21 chorales are listed twice ...
    test_files = {c.file for c in ds.chorales["test"]}
    assert not test_files & {c.file for c in ds.chorales["train"]}  # ... and never straddle the split
    assert len(ds.vocabulary) == 194 and sum(len(c.tokens) for c in every) == 18_873
    assert all(all(t in ds.vocabulary for t in seq) for seq in ds.test)
    first = next(c for c in every if c.number == 1)
    assert (first.title, first.file, first.key, first.time_signature) == (
        "Aus meines Herzens Grunde",
        "bach/bwv269",
        "G major",
        "3/4",
    )
    assert first.tokens[:4] == ["G4_1.0", "G4_2.0", "D5_1.0", "B4_1.5"]
    for c in every:  # four voices of equal length
        assert len(c.voices) == 4 and len({round(sum(d for _, d in v), 6) for v in c.voices}) == 1
    roll = first.piano_roll()
    assert roll.shape[1] == 4 and (roll[roll[:, 0] != REST, 0] >= 57).all()

    again = datasets.load("chorales")  # deterministic: the same split and the same arrays
    assert again.train == ds.train and again.vocabulary == ds.vocabulary
    for c1, c2 in zip(ds.chorales["test"], again.chorales["test"], strict=True):
        np.testing.assert_array_equal(c1.piano_roll(), c2.piano_roll())
    # The cache holds what the parser gives now (a stale cache would need _CACHE_VERSION bumped).
    parsed = chorales.parse_chorale("bach/bwv269")
    assert (
        parsed["tokens"] == first.tokens and [[tuple(e) for e in v] for v in parsed["voices"]] == first.voices
    )


@pytest.mark.slow
def test_a_failing_parse_worker_is_a_clear_error():
    pytest.importorskip("music21", reason="needs the music extra: pip install 'rnnkit[music]'")
    with pytest.raises(
        DataError, match=r"^dataset 'chorales': a music21 parsing worker failed: .*no_such_piece"
    ):
        chorales._parse_in_workers(["bach/no_such_piece"], 1)


# --- tunes -------------------------------------------------------------------------------------
def _tune(number, title, soprano, file=None):
    return Chorale(number, file or f"bach/{number}", title, "C major", "4/4", [], [soprano, [], [], []])


TUNE = [(67, 1.0), (69, 1.0), (71, 2.0), (72, 1.0), (71, 1.0), (69, 1.0), (67, 2.0), (74, 1.0), (72, 1.0)]


def test_same_melody_ignores_key_and_split_notes_but_not_another_tune():
    up_a_fourth = [(p + 5, d) for p, d in TUNE]
    split = [*TUNE[:2], (71, 1.0), (71, 1.0), *TUNE[3:]]  # a repeated note: the same interval line
    other = [(60, 1.0), (64, 1.0), (62, 1.0), (65, 1.0), (64, 1.0), (67, 1.0), (65, 1.0), (60, 2.0)]
    a = _tune(1, "x", TUNE)
    assert chorales.same_melody(a, _tune(2, "y", up_a_fourth))
    assert chorales.same_melody(a, _tune(3, "y", split))
    assert not chorales.same_melody(a, _tune(4, "y", other))


def test_tune_groups_join_melodies_titles_and_files():
    other = [(60, 1.0), (64, 1.0), (62, 1.0), (65, 1.0), (64, 1.0), (67, 1.0), (65, 1.0), (60, 2.0)]
    third = [(72, 1.0), (71, 1.0), (72, 1.0), (74, 2.0), (76, 1.0), (74, 1.0), (72, 1.0), (71, 1.0)]
    pieces = [
        _tune(1, "Herzlich tut mich verlangen", TUNE),
        _tune(2, "O Haupt voll Blut und Wunden", [(p - 2, d) for p, d in TUNE]),  # same tune, other text
        _tune(3, "Ach Gott, vom Himmel sieh’ darein", other),
        _tune(4, "Ach Gott vom Himmel sieh darein", third),  # same text (normalised), other tune
        _tune(5, "Jesu, meine Freude", third, file="bach/4"),  # listed twice: the file of number 4
        _tune(6, "Nun danket alle Gott", [(p + 1, d) for p, d in other[::-1]]),
    ]
    assert chorales.tune_groups(pieces) == [0, 0, 1, 1, 1, 2]
    assert chorales.tune_groups(pieces, use_titles=False) == [0, 0, 1, 2, 2, 3]
    assert chorales.normalized_title("Wär’ Gott nicht mit uns") == "war gott nicht mit uns"


def test_grouped_split_has_exact_sizes_and_keeps_groups_whole():
    groups = [i // 3 for i in range(30)] + list(range(10, 40))  # ten triples, then 30 singletons
    tr, va, te = chorales.grouped_split(groups, 7, 8, seed=3)
    assert (len(tr), len(va), len(te)) == (45, 7, 8)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(60))
    sides = [{groups[i] for i in idx} for idx in (tr, va, te)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert (chorales.grouped_split(groups, 7, 8, seed=3)[2] == te).all()  # seeded: the same again
    with pytest.raises(DataError, match=r"^cannot fill a test split of 4 "):
        chorales.grouped_split([0] * 5 + [1] * 5, 0, 4)


@pytest.mark.slow
def test_tune_split_shares_no_tune_between_train_and_test():
    pytest.importorskip("music21", reason="needs the music extra: pip install 'rnnkit[music]'")
    by_tune = datasets.load("chorales:tunes")
    assert by_tune.splits == {"train": 297, "validation": 37, "test": 37}
    every = [c for s in ("train", "validation", "test") for c in by_tune.chorales[s]]
    assert len({c.tune for c in every}) == 201 and sorted(c.number for c in every) == list(range(1, 372))
    seen = by_tune.chorales["train"] + by_tune.chorales["validation"]
    assert chorales.shared_tunes(seen, by_tune.chorales["test"]) == 0
    assert chorales.shared_tunes(by_tune.chorales["train"], by_tune.chorales["validation"]) == 0
    by_file = datasets.load("chorales")  # the older split: 17 of 37 test chorales sing a training tune
    assert chorales.shared_tunes(by_file.chorales["train"], by_file.chorales["test"]) == 17
    first = next(c for c in every if c.number == 1)
    assert first.bar_offset == 2.0  # a one-beat pickup in 3/4
