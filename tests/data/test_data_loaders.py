"""Generic loaders on small files written here: tables, text, aclImdb layout, wav folders, bad input."""

import logging
import wave

import numpy as np
import pytest

from rnnkit.data import (
    load_aclimdb,
    load_series,
    load_text_classification,
    load_text_file,
    load_text_folder,
    load_wav_folder,
    read_table,
    read_wav,
)
from rnnkit.errors import ConfigError, DataError


def test_csv_tsv_jsonl_give_the_same_table(tmp_path):
    (tmp_path / "a.csv").write_text('text,label\n"good, really",pos\nbad,neg\n', encoding="utf-8")
    (tmp_path / "a.tsv").write_text("text\tlabel\ngood, really\tpos\nbad\tneg\n", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text(
        '{"text": "good, really", "label": "pos"}\n\n{"text": "bad", "label": "neg"}\n', encoding="utf-8"
    )
    tables = [read_table(tmp_path / f"a.{ext}") for ext in ("csv", "tsv", "jsonl")]
    assert tables[0] == tables[1] == tables[2] == {"text": ["good, really", "bad"], "label": ["pos", "neg"]}


def test_text_classification(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("review,stars,x\nfine,neutral,1\nawful,negative,2\ngreat,positive,3\n", encoding="utf-8")
    data = load_text_classification(path, text_column="review", label_column="stars")
    assert data.classes == ["negative", "neutral", "positive"] and data.labels.tolist() == [1, 0, 2]
    ordered = load_text_classification(
        path, text_column="review", label_column="stars", classes=["positive", "neutral", "negative"]
    )
    assert ordered.labels.tolist() == [1, 2, 0] and len(ordered) == 3
    with pytest.raises(
        DataError,
        match=r"^column 'label' not found in '.*reviews.csv': the columns are 'review', 'stars', 'x'\.$",
    ):
        load_text_classification(path, text_column="review")
    with pytest.raises(DataError, match=r"labels outside classes=\['positive'\], at lines 2, 3 "):
        load_text_classification(path, text_column="review", label_column="stars", classes=["positive"])


def test_series_sorts_dates_and_names_bad_rows(tmp_path, caplog):
    path = tmp_path / "s.csv"
    path.write_text("date,y,c\n2024-01-02,2,0\n2024-01-01,1,1\n2024-01-03,3,0\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="rnnkit.data.loaders"):
        s = load_series(path, date_column="date", target="y", covariates=["c"])
    assert "sorted them by 'date'" in caplog.text
    assert s.values.tolist() == [[1, 1], [2, 0], [3, 0]] and s.column("c").tolist() == [1, 0, 0]
    assert str(s.dates[0]) == "2024-01-01T00:00:00"
    path.write_text("date,y\n2024-01-01,1\n2024-01-02,\n2024-01-03,abc\n", encoding="utf-8")
    with pytest.raises(
        DataError,
        match=r"^column 'y' of '.*' has non-numeric, NaN or infinite values in 2 row\(s\): "
        r"rows at 2024-01-02T00:00:00, 2024-01-03T00:00:00\.$",
    ):
        load_series(path, date_column="date", target="y")
    path.write_text("date,y\n2024-01-01,1\nyesterday,2\n", encoding="utf-8")
    with pytest.raises(
        DataError, match=r"^column 'date' of '.*' has 1 unparseable date\(s\), at line 3 \('yesterday'\)\.$"
    ):
        load_series(path, date_column="date", target="y")
    path.write_text("date,y\n2024-01-01,1\n2024-01-01,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="duplicate dates: 2024-01-01"):
        load_series(path, date_column="date", target="y")


def test_empty_and_malformed_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match=r"^'.*empty.csv' is empty\.$"):
        read_table(empty)
    header_only = tmp_path / "h.csv"
    header_only.write_text("text,label\n")
    with pytest.raises(DataError, match="has no data rows"):
        read_table(header_only)
    ragged = tmp_path / "r.csv"
    ragged.write_text('a,b\n1,2\n\n"multi\nline",2\n3\n')  # a blank line, a cell over two lines
    with pytest.raises(DataError, match=r"line 6 has 1 fields but the header has 2"):
        read_table(ragged)
    bad_json = tmp_path / "b.jsonl"
    bad_json.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(DataError, match="line 2 is not valid JSON"):
        read_table(bad_json)
    with pytest.raises(
        ConfigError, match=r"^format='xlsx' is not valid: expected one of 'csv', 'tsv', 'jsonl'\.$"
    ):
        read_table(tmp_path / "x.xlsx")
    with pytest.raises(DataError, match="file not found"):
        load_text_file(tmp_path / "missing.txt")
    blank = tmp_path / "blank.txt"
    blank.write_text("  \n\n")
    with pytest.raises(DataError, match="is empty"):
        load_text_file(blank)


def test_non_utf8_is_an_error_by_default_or_replaced_with_a_warning(tmp_path, caplog):
    path = tmp_path / "latin1.txt"
    path.write_bytes("line one\ncaf\u00e9\n".encode("latin-1"))
    with pytest.raises(
        DataError,
        match=r"^'.*latin1.txt' is not valid UTF-8: byte 0xe9 at offset 12 \(line 2\)\. "
        r"Convert the file to UTF-8, or pass encoding_errors='replace'\.$",
    ):
        load_text_file(path)
    with caplog.at_level(logging.WARNING, logger="rnnkit.data.loaders"):
        assert load_text_file(path, encoding_errors="replace") == "line one\ncaf\ufffd\n"
    assert "replaced 1 undecodable" in caplog.text
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbfhello")
    assert load_text_file(bom) == "hello"


def test_text_folder_and_aclimdb(tmp_path):
    (tmp_path / "corpus" / "sub").mkdir(parents=True)
    (tmp_path / "corpus" / "b.txt").write_text("second", encoding="utf-8")
    (tmp_path / "corpus" / "sub" / "a.txt").write_text("first", encoding="utf-8")
    assert load_text_folder(tmp_path / "corpus") == {"b.txt": "second", "sub/a.txt": "first"}
    with pytest.raises(DataError, match=r"no files matching '\*.md'"):
        load_text_folder(tmp_path / "corpus", pattern="*.md")
    root = tmp_path / "aclImdb"
    for sub, texts in (("neg", ["Awful.<br /><br />Truly."]), ("pos", ["Great!", "Loved it"])):
        (root / "train" / sub).mkdir(parents=True)
        for i, t in enumerate(texts):
            (root / "train" / sub / f"{i}_7.txt").write_text(t, encoding="utf-8")
    data = load_aclimdb(root, "train")
    assert data.texts == ["Awful.  Truly.", "Great!", "Loved it"] and data.labels.tolist() == [0, 1, 1]
    with pytest.raises(DataError, match=r"test/neg' not found: an aclImdb folder has test/neg and test/pos"):
        load_aclimdb(root, "test")


def _write_wav(path, samples, rate=16000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.asarray(samples) * 32767).astype("<i2").tobytes())


def test_wav_folder(tmp_path):
    _write_wav(tmp_path / "one.wav", np.sin(np.linspace(0, 20, 1600)))
    _write_wav(tmp_path / "two.wav", np.zeros(800))
    (tmp_path / "transcripts.tsv").write_text("one\tone\ntwo.wav\t two \n", encoding="utf-8")
    clips = load_wav_folder(tmp_path)
    assert clips.transcripts == ["one", "two"] and clips.sample_rate == 16000 and len(clips) == 2
    assert clips.waves[0].shape == (1600,) and np.abs(clips.waves[0]).max() <= 1
    audio, _ = read_wav(tmp_path / "one.wav")
    np.testing.assert_allclose(audio, np.sin(np.linspace(0, 20, 1600)), atol=1e-4)
    (tmp_path / "transcripts.tsv").write_text("three\tthree\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 1 names 'three', but '.*three.wav' does not exist"):
        load_wav_folder(tmp_path)
    _write_wav(tmp_path / "fast.wav", np.zeros(10), rate=8000)
    (tmp_path / "transcripts.tsv").write_text("one\tone\nfast\tfast\n", encoding="utf-8")
    with pytest.raises(DataError, match="has sample rate 8000 Hz but earlier clips have 16000 Hz"):
        load_wav_folder(tmp_path)
    (tmp_path / "junk.wav").write_bytes(b"not a wav")
    with pytest.raises(DataError, match="is not a readable PCM wav file"):
        read_wav(tmp_path / "junk.wav")
