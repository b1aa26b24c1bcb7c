"""Spoken digits and command words, synthesised offline with espeak-ng and resampled with sox.

A *speaker* is an espeak-ng accent (``en-us``, ``en-gb-scotland`` ...) with a voice
variant (``+m1``..``+m7``, ``+f1``..``+f5``: the timbre), given its own base speed and
pitch. Every speaker says every word once, with a small per-utterance jitter of speed
and pitch; sox resamples espeak-ng's 22,050 Hz output to 16 kHz mono 16-bit, and
Gaussian noise at a drawn SNR (25-40 dB) is added with a generator seeded per utterance.

The split is by **variant**: the validation and test variants (one male and one female
each, drawn with the fixed seed) never occur in train, in any accent, so test voices are
unseen timbres. Accents are shared by all splits.

Determinism: the plan (who says what, at which speed, pitch and SNR) comes from one
seeded generator, espeak-ng is deterministic, and sox runs with ``-D`` because its
default dither on the 16-bit output is random (three runs gave three different files).
The same espeak-ng version therefore gives bit-identical wavs.

The wavs are cached in the user cache directory (``$RNNKIT_CACHE_DIR`` overrides it) as
a folder that :func:`rnnkit.data.load_wav_folder` can read (``transcripts.tsv``), plus
``speakers.tsv``; the folder is built under a temporary name and renamed, so parallel
builders (pytest-xdist) never see half of one. Its name holds a hash of the plan, so a
change to voices, words or format builds a new folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
import uuid
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnkit.data.loaders import AudioClips, load_wav_folder, read_text
from rnnkit.datasets.registry import SPLIT_SEED, AudioDataset, DatasetInfo, cache_dir, register
from rnnkit.errors import ConfigError, DataError, MissingDependencyError, invalid

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
ACCENTS = (
    "en-us",
    "en-us-nyc",
    "en-gb",
    "en-gb-x-rp",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
)
MALE = ("m1", "m2", "m3", "m4", "m5", "m6", "m7")
FEMALE = ("f1", "f2", "f3", "f4", "f5")
VOCABULARIES = {
    "digits": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    # The ten core words of Google's Speech Commands, a common keyword-spotting set.
    "words": ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"),
}
_DEBIAN = "apt-get install espeak-ng sox (or scripts/setup-system.sh)"
# Bump when the synthesis or the folder layout changes (it is part of the folder name).
_CACHE_VERSION = "v1"
_SPEED = (130, 190)  # words per minute of a speaker (espeak-ng default 175)
_PITCH = (25, 75)  # espeak-ng pitch 0-99 (default 50)
_JITTER = (12, 6)  # +- per utterance: speed, pitch
_SNR_DB = (25.0, 40.0)


@dataclass(frozen=True)
class Utterance:
    """One planned utterance: who says what, how, and with how much noise."""

    index: int
    word: str  # the text spoken: one word, or several separated by spaces (digit strings)
    accent: str
    variant: str
    speed: int
    pitch: int
    snr_db: float

    @property
    def voice(self) -> str:
        """The espeak-ng voice, e.g. ``"en-gb-scotland+f3"``: one speaker."""
        return f"{self.accent}+{self.variant}"

    @property
    def file(self) -> str:
        return f"{self.index:05d}.wav"


@dataclass
class SpokenDataset(AudioDataset):
    """Spoken words: ``train``/``validation``/``test`` are :class:`~rnnkit.data.AudioClips`
    (16 kHz float32 waveforms in [-1, 1] and transcripts); ``voices[split][i]`` is the
    espeak-ng voice of clip i. ``classes`` is the vocabulary, in :meth:`labels` order.

    For CTC speech-to-text, use the transcripts as character targets and
    :func:`rnnkit.data.audio.log_mel_spectrogram` as input features.
    """

    voices: dict[str, list[str]] = field(default_factory=dict)

    def labels(self, split: str = "train") -> np.ndarray:
        """(N,) int64 class indices of a split's transcripts (keyword spotting)."""
        if split not in self.voices:
            raise ConfigError(invalid("split", split, list(self.voices)))
        clips: AudioClips = getattr(self, split)
        return np.array([self.classes.index(t) for t in clips.transcripts], dtype=np.int64)


def split_variants(seed: int = SPLIT_SEED) -> dict[str, tuple[str, ...]]:
    """Voice variants per split: one male and one female each for validation and test."""
    rng = np.random.default_rng(seed)
    male, female = list(rng.permutation(MALE)), list(rng.permutation(FEMALE))
    return {
        "train": tuple(sorted(male[2:] + female[2:])),
        "validation": (str(male[1]), str(female[1])),
        "test": (str(male[0]), str(female[0])),
    }


def plan(vocabulary: str, seed: int = SPLIT_SEED) -> list[Utterance]:
    """Every utterance of a vocabulary, in a fixed order, with its drawn speed, pitch and SNR."""
    words = VOCABULARIES[vocabulary]
    # One generator per vocabulary, so adding a vocabulary never changes another's audio.
    rng = np.random.default_rng([seed, sorted(VOCABULARIES).index(vocabulary)])
    out: list[Utterance] = []
    for accent in ACCENTS:
        for variant in MALE + FEMALE:
            base_speed, base_pitch = int(rng.integers(*_SPEED)), int(rng.integers(*_PITCH))
            for word in words:
                speed = base_speed + int(rng.integers(-_JITTER[0], _JITTER[0] + 1))
                pitch = base_pitch + int(rng.integers(-_JITTER[1], _JITTER[1] + 1))
                snr = round(float(rng.uniform(*_SNR_DB)), 2)
                out.append(Utterance(len(out), word, accent, variant, speed, pitch, snr))
    return out


def _which(program: str, dataset: str) -> str:
    exe = shutil.which(program)
    if exe is None:
        raise MissingDependencyError(
            f"dataset {dataset!r} needs the Debian package {program} "
            f"(no {program} program on PATH): {_DEBIAN}."
        )
    return exe


def _run(cmd: list[str], data: bytes, u: Utterance) -> bytes:
    out = subprocess.run(cmd, input=data, capture_output=True, check=False)
    if out.returncode != 0:  # e.g. an older espeak-ng without one of the accents
        err = out.stderr.decode(errors="replace").strip()
        raise DataError(f"{Path(cmd[0]).name} failed on {u.word!r} with voice {u.voice!r}: {err}")
    return out.stdout


def synthesize(u: Utterance, espeak: str, sox: str, seed: int = SPLIT_SEED) -> np.ndarray:
    """One utterance as 16 kHz int16 samples: espeak-ng -> sox (resample) -> seeded noise."""
    speech = _run([espeak, "-v", u.voice, "-s", str(u.speed), "-p", str(u.pitch), "--stdout", u.word], b"", u)
    # -D: no dither (sox's dither is random); raw little-endian 16-bit mono at 16 kHz out.
    raw = _run(
        [sox, "-D", "-t", "wav", "-", "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16"]
        + ["-e", "signed-integer", "-L", "-"],
        speech,
        u,
    )
    x = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32767.0
    if x.size == 0:
        raise DataError(f"espeak-ng produced no audio for {u.word!r} with voice {u.voice!r}.")
    rms = float(np.sqrt(np.mean(x**2)))
    noise = np.random.default_rng([seed, u.index]).standard_normal(x.size)
    x = x + noise * rms / 10 ** (u.snr_db / 20)
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


def _write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(samples.astype("<i2").tobytes())


def _fingerprint(utterances: list[Utterance]) -> str:
    text = json.dumps([_CACHE_VERSION, SAMPLE_RATE, [list(vars(u).values()) for u in utterances]])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def build(vocabulary: str, dataset: str) -> Path:
    """The cached folder of a vocabulary's wavs, synthesising it the first time."""
    return build_folder(plan(vocabulary), vocabulary, dataset)


def build_folder(utterances: list[Utterance], prefix: str, dataset: str) -> Path:
    """The cached folder ``spoken/<prefix>-<version>-<hash of the plan>`` holding every planned
    utterance as a wav, plus ``transcripts.tsv`` and ``speakers.tsv``; synthesised in parallel
    the first time and renamed into place whole."""
    folder = cache_dir("spoken") / f"{prefix}-{_CACHE_VERSION}-{_fingerprint(utterances)}"
    if folder.is_dir():
        return folder
    espeak, sox = _which("espeak-ng", dataset), _which("sox", dataset)
    start = time.perf_counter()
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:

        def one(u: Utterance) -> None:
            _write_wav(tmp / u.file, synthesize(u, espeak, sox))

        # Threads suffice: each one mostly waits on its espeak-ng and sox processes.
        with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
            list(pool.map(one, utterances))
        (tmp / "transcripts.tsv").write_text("".join(f"{u.file}\t{u.word}\n" for u in utterances))
        (tmp / "speakers.tsv").write_text(
            "file\tvoice\tspeed\tpitch\tsnr_db\n"
            + "".join(f"{u.file}\t{u.voice}\t{u.speed}\t{u.pitch}\t{u.snr_db}\n" for u in utterances)
        )
        try:
            tmp.rename(folder)  # atomic: readers see the whole folder or none of it
        except OSError:
            if not folder.is_dir():
                raise
            logger.info("spoken: %s was built by another process meanwhile", folder)  # theirs is identical
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info(
        "spoken: synthesised %d %s in %.1f s into %s",
        len(utterances),
        prefix,
        time.perf_counter() - start,
        folder,
    )
    return folder


def _load_spoken(info: DatasetInfo, vocabulary: str) -> SpokenDataset:
    return load_split_by_voice(info, build(vocabulary, info.name), list(VOCABULARIES[vocabulary]))


def load_split_by_voice(info: DatasetInfo, folder: Path, classes: list[str]) -> SpokenDataset:
    """A built folder as a :class:`SpokenDataset`, split by the voice variant of each clip."""
    clips = load_wav_folder(folder)
    rows = [line.split("\t") for line in read_text(folder / "speakers.tsv").splitlines()[1:]]
    voices = [r[1] for r in rows]
    parts: dict[str, AudioClips] = {}
    names: dict[str, list[str]] = {}
    for split, variants in split_variants().items():
        idx = [i for i, v in enumerate(voices) if v.rpartition("+")[2] in variants]
        parts[split] = AudioClips(
            [clips.waves[i] for i in idx],
            [clips.transcripts[i] for i in idx],
            clips.sample_rate,
            [clips.paths[i] for i in idx],
        )
        names[split] = [voices[i] for i in idx]
    return SpokenDataset(
        info,
        train=parts["train"],
        validation=parts["validation"],
        test=parts["test"],
        classes=classes,
        voices=names,
    )


def _info(name: str, vocabulary: str, what: str) -> DatasetInfo:
    n = len(VOCABULARIES[vocabulary]) * len(ACCENTS)  # utterances per voice variant
    return DatasetInfo(
        name=name,
        task="speech: keyword spotting / CTC speech-to-text",
        description=(
            f"{what} ({', '.join(VOCABULARIES[vocabulary])}) synthesised with espeak-ng by "
            f"{len(ACCENTS)} English accents x 12 voice variants (m1-m7, f1-f5), each speaker with "
            "its own speed and pitch, jittered per utterance; 16 kHz mono via sox, light seeded noise "
            "(SNR 25-40 dB). Split by voice variant: validation and test voices never occur in train. "
            "Deterministic; first load synthesises (about 20-40 s), then cached wavs."
        ),
        license=(
            "generated locally; espeak-ng is GPL-3.0-or-later, whose terms do not cover the "
            "program's output (GNU GPL FAQ), so the audio carries no license of its own"
        ),
        source="Debian espeak-ng + sox",
        size=f"{n * 12:,} utterances of 16 kHz speech",
        splits={"train": n * 8, "validation": n * 2, "test": n * 2},
        requires=_DEBIAN,
        slow=True,
    )


@register(_info("spoken_digits", "digits", "Spoken digits"))
def load_spoken_digits(info: DatasetInfo, variant: str | None = None) -> SpokenDataset:
    return _load_spoken(info, "digits")


@register(_info("spoken_words", "words", "Spoken command words"))
def load_spoken_words(info: DatasetInfo, variant: str | None = None) -> SpokenDataset:
    return _load_spoken(info, "words")
