"""EN-ES verse pairs: the OSIS parsing on a small sample, and the real load (diatheke, cached)."""

import shutil

import pytest

from rnnkit import datasets
from rnnkit.datasets.bible import HELD_OUT_BOOKS, align, book_of, book_split, parse_osis_dump

SAMPLE_EN = (
    "Genesis 1:1: <w>In</w> <w>the</w> <w>beginning</w>, <w>God</w><w>created</w> the earth.<milestone/>\n"
    "A Psalm by David.  Psalms 3:1: Yahweh, how <w>my</w> adversaries increased!\n"
    "I Kings 1:1: Now king David was old.\n"
    "II Kings 1:1: Moab rebelled against Israel after the death of Ahab, and more and more words here.\n"
    "(engWEB2015eb)\n"
)
SAMPLE_ES = (
    "Genesis 1:1: <w>EN el principio</w> <w>crió Dios</w> la tierra.\n"
    "Psalms 3:1: <w>Oh Jehová</w>, ¡cuánto se han multiplicado mis enemigos!\n"
    "I Kings 1:1: Y COMO el rey David era viejo.\n"
    "II Kings 1:1: Moab.\n"
)


def test_parse_and_align_sample():
    en = parse_osis_dump(SAMPLE_EN)
    assert en["Genesis 1:1"] == "In the beginning, God created the earth."  # glued <w>s get a space
    assert en["Psalms 3:1"] == "Yahweh, how my adversaries increased!"  # the title before the key is dropped
    assert set(en) == {"Genesis 1:1", "Psalms 3:1", "I Kings 1:1", "II Kings 1:1"}
    pairs = align(en, parse_osis_dump(SAMPLE_ES))
    assert [k for k, _, _ in pairs] == ["Genesis 1:1", "Psalms 3:1", "I Kings 1:1"]  # II Kings: ratio < 0.5


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("diatheke") is None, reason="needs Debian diatheke: run scripts/setup-system.sh"
)
def test_bible_en_es_loads_with_expected_counts():
    ds = datasets.load("bible_en_es")  # ~20 s the first time on this machine, then read from the cache
    assert ds.splits == ds.info.splits == {"train": 28_998, "validation": 1_000, "test": 1_000}
    en, es = dict(zip(ds.keys["train"], ds.train, strict=True))["Genesis 1:1"]
    assert en.startswith("In the beginning, God created") and es.startswith("EN el principio crió Dios")


def test_book_split_keeps_whole_books_on_one_side():
    keys = [
        "Genesis 1:1",
        "Ruth 1:1",
        "Ruth 4:22",
        "I Peter 1:1",
        "II Peter 1:1",
        "Hebrews 13:25",
        "Jonah 2:1",
    ]
    tr, va, te = book_split(keys)
    assert [keys[i] for i in te] == ["Ruth 1:1", "Ruth 4:22", "I Peter 1:1", "Jonah 2:1"]
    assert [keys[i] for i in va] == ["Hebrews 13:25"]
    assert [keys[i] for i in tr] == ["Genesis 1:1", "II Peter 1:1"]  # "II Peter" is not "I Peter"
    assert book_of("Revelation of John 22:21") == "Revelation of John"
    assert not set(HELD_OUT_BOOKS["validation"]) & set(HELD_OUT_BOOKS["test"])


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("diatheke") is None, reason="needs Debian diatheke: run scripts/setup-system.sh"
)
def test_bible_books_variant_holds_out_whole_books():
    ds = datasets.load("bible_en_es:books")
    assert ds.splits == {"train": 28_960, "validation": 999, "test": 1_039}
    books = {s: {book_of(k) for k in ds.keys[s]} for s in ("train", "validation", "test")}
    assert books["test"] == set(HELD_OUT_BOOKS["test"])  # every held-out book exists under that name
    assert books["validation"] == set(HELD_OUT_BOOKS["validation"])
    assert not books["train"] & (books["test"] | books["validation"])
