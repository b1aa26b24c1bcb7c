"""spoken_digit_strings: the plan (fixed, nested variants, 1-7 digits, every digit), the split by
voice, the real (tiny) load, and the Flite set from another synthesiser."""

import shutil

import numpy as np
import pytest

from rnnkit import datasets
from rnnkit.datasets import digit_strings, spoken

needs_programs = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None, reason="needs Debian espeak-ng and sox"
)


def test_plan_is_fixed_nested_and_covers_every_length_and_digit():
    full = digit_strings.plan("full")
    assert full == digit_strings.plan("full") and len(full) == 96 * 40
    assert [u.index for u in full] == list(range(len(full)))
    lengths = {len(u.word.split()) for u in full}
    assert lengths == set(range(1, 8))
    assert {w for u in full for w in u.word.split()} == set(spoken.VOCABULARIES["digits"])
    for variant, k in (("small", 4), ("tiny", 1)):
        part = digit_strings.plan(variant)
        assert len(part) == 96 * k
        firsts = [u for i, u in enumerate(full) if i % 40 < k]  # the first k strings of each speaker
        strip = lambda us: [(u.word, u.voice, u.speed, u.pitch, u.snr_db) for u in us]  # noqa: E731
        assert strip(part) == strip(firsts)
    assert len({u.voice for u in full}) == 96
    # its own random stream: the isolated-word plans are untouched
    assert spoken.plan("digits") == spoken.plan("digits") and spoken.plan("digits")[0].word == "zero"


def test_info_matches_the_plan():
    info = datasets.info("spoken_digit_strings")
    assert info.variants == ("full", "small", "tiny") and info.default_variant == "full"
    assert sum(info.splits.values()) == len(digit_strings.plan("full"))


@needs_programs
def test_tiny_load_is_split_by_unseen_voices():
    d = datasets.load("spoken_digit_strings:tiny")
    assert d.splits == {"train": 64, "validation": 16, "test": 16}
    variants = {s: {v.rpartition("+")[2] for v in d.voices[s]} for s in ("train", "validation", "test")}
    assert variants["test"].isdisjoint(variants["train"]) and variants["validation"].isdisjoint(
        variants["train"]
    )
    assert set(variants["test"]) == set(spoken.split_variants()["test"])
    wave = d.test.waves[0]
    n_words = len(d.test.transcripts[0].split())
    assert d.test.sample_rate == 16_000 and wave.dtype == np.float32
    assert 0.25 * n_words < len(wave) / 16_000 < 1.2 * n_words + 1.0  # roughly 0.3-1 s a digit


@pytest.mark.skipif(shutil.which("flite") is None, reason="needs Debian flite")
def test_flite_strings_are_seeded_and_use_every_voice():
    waves, texts, voices = digit_strings.flite_strings(5)
    again = digit_strings.flite_strings(5)
    assert texts == again[1] and all(np.array_equal(a, b) for a, b in zip(waves, again[0], strict=True))
    assert voices == list(digit_strings.FLITE_VOICES)
    assert all(w.dtype == np.float32 and len(w) > 4000 for w in waves)
