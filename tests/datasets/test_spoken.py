"""Spoken digits and words (espeak-ng + sox): plan, split by voice, determinism, parallel-safe
cache, missing programs, the real loads (~25 s each cold on 2 busy cores, then cached), and
the torch-only features of rnnkit.data.audio."""

import math
import os
import shutil
import threading

import numpy as np
import pytest
import torch

from rnnkit import datasets
from rnnkit.data.audio import dct_matrix, log_mel_spectrogram, mel_filterbank, mel_to_hz, mfcc
from rnnkit.datasets import spoken
from rnnkit.errors import ConfigError, DataError, MissingDependencyError, ShapeError

HAVE_PROGRAMS = shutil.which("espeak-ng") is not None and shutil.which("sox") is not None
needs_programs = pytest.mark.skipif(
    not HAVE_PROGRAMS, reason="needs Debian espeak-ng and sox: run scripts/setup-system.sh"
)


def test_split_holds_out_one_male_and_one_female_voice_each():
    parts = spoken.split_variants()
    assert parts == spoken.split_variants()  # fixed seed
    every = [v for vs in parts.values() for v in vs]
    assert sorted(every) == sorted(spoken.MALE + spoken.FEMALE)  # disjoint and complete
    for split in ("validation", "test"):
        assert sorted(v[0] for v in parts[split]) == ["f", "m"]


def test_plan_is_fixed_and_balanced():
    digits = spoken.plan("digits")
    assert digits == spoken.plan("digits") and len(digits) == 8 * 12 * 10
    assert [u.index for u in digits] == list(range(960))
    assert {u.word for u in digits} == set(spoken.VOCABULARIES["digits"])
    assert len({u.voice for u in digits}) == 96
    assert all(118 <= u.speed <= 201 and 19 <= u.pitch <= 80 and 25 <= u.snr_db <= 40 for u in digits)
    assert [u.speed for u in spoken.plan("words")] != [u.speed for u in digits]  # own generator


@needs_programs
def test_synthesis_is_bit_identical():
    u = spoken.plan("digits")[7]
    exe = shutil.which("espeak-ng"), shutil.which("sox")
    a, b = spoken.synthesize(u, *exe), spoken.synthesize(u, *exe)
    assert a.dtype == np.int16 and 0.2 * 16_000 < len(a) < 2 * 16_000
    np.testing.assert_array_equal(a, b)  # sox -D: no random dither; seeded noise
    quiet = spoken.Utterance(**{**vars(u), "snr_db": 200.0})  # no noise to speak of
    assert not np.array_equal(spoken.synthesize(quiet, *exe), a)


@pytest.mark.parametrize("present", [[], ["espeak-ng"]])
def test_missing_program_names_the_debian_package(monkeypatch, tmp_path, present):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in present:
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed")
        os.symlink(shutil.which(program), bin_dir / program)
    monkeypatch.setenv("PATH", str(bin_dir))  # a PATH without espeak-ng (or without sox)
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path / "cache"))  # nothing cached: must synthesise
    missing = "sox" if present else "espeak-ng"
    with pytest.raises(
        MissingDependencyError,
        match=(
            rf"^dataset 'spoken_digits' needs the Debian package {missing} \(no {missing} program on "
            r"PATH\): apt-get install espeak-ng sox \(or scripts/setup-system\.sh\)\.$"
        ),
    ):
        datasets.load("spoken_digits")


@needs_programs
def test_parallel_builds_share_one_complete_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
    few = spoken.plan("words")[:6]
    monkeypatch.setattr(spoken, "plan", lambda vocabulary: few)
    folders: list = []
    threads = [threading.Thread(target=lambda: folders.append(spoken.build("words", "x"))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(folders)) == 1 and len(folders) == 3
    assert sorted(p.name for p in (tmp_path / "spoken").iterdir()) == [folders[0].name]  # no leftovers
    assert sorted(p.name for p in folders[0].iterdir()) == sorted(
        [u.file for u in few] + ["speakers.tsv", "transcripts.tsv"]
    )


@pytest.mark.slow
@needs_programs
@pytest.mark.parametrize("name", ["spoken_digits", "spoken_words"])
def test_spoken_loads_split_by_unseen_voices(name):
    ds = datasets.load(name)  # synthesises the cache on the first run (~25 s on 2 busy cores)
    assert ds.splits == ds.info.splits == {"train": 640, "validation": 160, "test": 160}
    assert ds.train.sample_rate == ds.test.sample_rate == 16_000
    voices = {s: set(v) for s, v in ds.voices.items()}
    assert len(voices["train"]) == 64 and len(voices["validation"]) == len(voices["test"]) == 16
    assert not voices["train"] & voices["test"] and not voices["train"] & voices["validation"]
    variants = {s: {v.rpartition("+")[2] for v in vs} for s, vs in voices.items()}
    assert not variants["train"] & (variants["test"] | variants["validation"])  # unseen timbres
    assert np.bincount(ds.labels("train")).tolist() == [64] * 10
    assert ds.classes == list(spoken.VOCABULARIES[name.removeprefix("spoken_")])
    assert all(w.dtype == np.float32 and np.abs(w).max() <= 1.0 for w in ds.test.waves)
    assert ds.samples(1)[0].startswith(f"{ds.classes[0]!r}: ")
    with pytest.raises(ConfigError, match=r"^split='dev' is not valid"):
        ds.labels("dev")

    again = datasets.load(name)  # two loads give identical arrays
    assert again.test.transcripts == ds.test.transcripts and again.voices == ds.voices
    for a, b in zip(ds.test.waves, again.test.waves, strict=True):
        np.testing.assert_array_equal(a, b)
    u = spoken.plan(name.removeprefix("spoken_"))[int(ds.test.paths[0].stem)]  # the cache is what
    fresh = spoken.synthesize(u, shutil.which("espeak-ng"), shutil.which("sox"))  # the code makes now
    np.testing.assert_array_equal(np.round(ds.test.waves[0] * 32767).astype(np.int16), fresh)
    feats = log_mel_spectrogram(ds.test.waves[0])
    assert feats.shape == (len(ds.test.waves[0]) // 160 + 1, 80) and torch.isfinite(feats).all()


# --- rnnkit.data.audio -------------------------------------------------------------------------
def test_mel_filterbank_triangles():
    fb = mel_filterbank(201, 40, 16_000)
    assert fb.shape == (201, 40) and (fb >= 0).all() and fb.max() <= 1.0
    peaks = fb.argmax(dim=0)
    assert (peaks[1:] >= peaks[:-1]).all()  # centres ascend
    with pytest.raises(ConfigError, match=r"^f_min, f_max=\(0\.0, 9000\) is not valid: expected 0 <= f_min"):
        mel_filterbank(201, 40, 16_000, f_max=9000)


def test_log_mel_of_a_tone_peaks_at_its_band():
    t = torch.arange(16_000) / 16_000
    tone = torch.sin(2 * math.pi * 1000 * t)
    feats = log_mel_spectrogram(tone)
    assert feats.shape == (101, 80) and feats.dtype == torch.float32  # S // hop + 1 centred frames
    centres = mel_to_hz(torch.linspace(0, 2595 * math.log10(1 + 8000 / 700), 82))[1:-1]
    assert abs(float(centres[feats.mean(dim=0).argmax()]) - 1000) < 40
    batch = log_mel_spectrogram(torch.stack([tone, 0.5 * tone]))
    torch.testing.assert_close(batch[0], feats)
    loud = feats > -10  # bands far from the tone sit on the floor, where scaling shows nothing
    diff = batch[1][loud] - feats[loud]
    torch.testing.assert_close(diff, torch.full_like(diff, math.log(0.25)), atol=1e-3, rtol=0)  # power / 4
    silent = log_mel_spectrogram(torch.zeros(1600))
    assert torch.equal(silent, torch.full_like(silent, math.log(1e-10)))  # floored, not -inf


def test_mfcc_is_an_orthonormal_dct_of_log_mel():
    d = dct_matrix(13, 40)
    torch.testing.assert_close(d.T @ d, torch.eye(13), atol=1e-6, rtol=0)
    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    c = mfcc(x)
    assert c.shape == (51, 13)
    logmel = log_mel_spectrogram(x, n_mels=40)
    torch.testing.assert_close(c[:, 0], logmel.sum(dim=1) / math.sqrt(40))  # c0 = sum / sqrt(M)
    with pytest.raises(
        ConfigError, match=r"^n_mfcc=41 is not valid: expected an integer in \[1, n_mels=40\]\.$"
    ):
        mfcc(x, n_mfcc=41)
    with pytest.raises(ShapeError, match=r"^wave must be \(S,\) or \(B, S\), got shape \(1, 2, 800\)\.$"):
        log_mel_spectrogram(np.zeros((1, 2, 800), dtype=np.float32))
    with pytest.raises(ConfigError, match=r"^wave dtype=torch\.int16 is not valid"):
        log_mel_spectrogram(np.zeros(800, dtype=np.int16))


@needs_programs
def test_an_unknown_voice_is_a_clear_error():
    u = spoken.Utterance(0, "one", "xx-nowhere", "m1", 150, 50, 30.0)
    with pytest.raises(DataError, match=r"^espeak-ng failed on 'one' with voice 'xx-nowhere\+m1': "):
        spoken.synthesize(u, shutil.which("espeak-ng"), shutil.which("sox"))
