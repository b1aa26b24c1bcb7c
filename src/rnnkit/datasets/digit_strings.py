"""Connected digit strings ("two nine three four zero"), synthesised with espeak-ng like spoken_digits.

The same 96 speakers as :mod:`rnnkit.datasets.spoken` (8 English accents x 12 voice
variants, each with its own base speed and pitch), but every speaker reads
``STRINGS_PER_SPEAKER`` strings of 1-7 digits drawn uniformly, as one phrase, so the digits
run together as in a spoken phone number. Per-utterance speed/pitch jitter and seeded noise
(SNR 25-40 dB), 16 kHz mono via sox, exactly as for the isolated words.

Split by voice variant with :func:`rnnkit.datasets.spoken.split_variants` (the same held-out
voices as spoken_digits): test voices are timbres never heard in training.

Variants: ``full`` (40 strings a speaker, 3,840 utterances), ``small`` (the first 4 of each
speaker's, 384) and ``tiny`` (the first one, 96) for tests and smoke runs. The smaller plans
are prefixes of the full one, so their audio is identical to the full set's.
"""

from __future__ import annotations

import numpy as np

from rnnkit.datasets.registry import SPLIT_SEED, DatasetInfo, register
from rnnkit.datasets.spoken import (
    _DEBIAN,
    _JITTER,
    _PITCH,
    _SNR_DB,
    _SPEED,
    ACCENTS,
    FEMALE,
    MALE,
    VOCABULARIES,
    SpokenDataset,
    Utterance,
    build_folder,
    load_split_by_voice,
)

DIGITS = VOCABULARIES["digits"]
STRINGS_PER_SPEAKER = {"full": 40, "small": 4, "tiny": 1}
MAX_DIGITS = 7


def plan(variant: str = "full", seed: int = SPLIT_SEED) -> list[Utterance]:
    """Every utterance of a variant, in a fixed order, with its digits, speed, pitch and SNR.

    All draws come from the full plan's generator, so a smaller variant keeps the first k
    strings of every speaker unchanged (only the indices are renumbered).
    """
    keep = STRINGS_PER_SPEAKER[variant]
    rng = np.random.default_rng([seed, 1000])  # its own stream: spoken_* plans never change
    out: list[Utterance] = []
    for accent in ACCENTS:
        for voice in MALE + FEMALE:
            base_speed, base_pitch = int(rng.integers(*_SPEED)), int(rng.integers(*_PITCH))
            for k in range(STRINGS_PER_SPEAKER["full"]):
                n = int(rng.integers(1, MAX_DIGITS + 1))
                text = " ".join(DIGITS[int(d)] for d in rng.integers(0, 10, size=n))
                speed = base_speed + int(rng.integers(-_JITTER[0], _JITTER[0] + 1))
                pitch = base_pitch + int(rng.integers(-_JITTER[1], _JITTER[1] + 1))
                snr = round(float(rng.uniform(*_SNR_DB)), 2)
                if k < keep:
                    out.append(Utterance(len(out), text, accent, voice, speed, pitch, snr))
    return out


def _info() -> DatasetInfo:
    per_voice = STRINGS_PER_SPEAKER["full"] * len(ACCENTS)  # utterances per voice variant
    return DatasetInfo(
        name="spoken_digit_strings",
        task="speech: CTC speech-to-text",
        description=(
            "Connected digit strings of 1-7 digits ('two nine three four zero') synthesised with "
            f"espeak-ng by {len(ACCENTS)} English accents x 12 voice variants, each speaker with its "
            "own speed and pitch, jittered per utterance; 16 kHz mono via sox, seeded noise "
            "(SNR 25-40 dB). Split by voice variant as spoken_digits: test voices never occur in "
            "train. Variants full (40 strings a speaker), small (4), tiny (1). Deterministic; the "
            "first load synthesises (a few minutes on 2 cores for full), then cached wavs."
        ),
        license=(
            "generated locally; espeak-ng is GPL-3.0-or-later, whose terms do not cover the "
            "program's output (GNU GPL FAQ), so the audio carries no license of its own"
        ),
        source="Debian espeak-ng + sox",
        size=f"{per_voice * 12:,} utterances of 16 kHz speech (full)",
        splits={"train": per_voice * 8, "validation": per_voice * 2, "test": per_voice * 2},
        requires=_DEBIAN,
        variants=tuple(STRINGS_PER_SPEAKER),
        default_variant="full",
        slow=True,
    )


@register(_info())
def load_spoken_digit_strings(info: DatasetInfo, variant: str | None = None) -> SpokenDataset:
    variant = variant or "full"
    folder = build_folder(plan(variant), f"digit-strings-{variant}", info.name)
    return load_split_by_voice(info, folder, list(DIGITS))


FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")


def flite_speak(texts: list[str], voices: list[str]) -> list[np.ndarray]:
    """Each text spoken by Flite (Debian ``flite``) with its voice, as 16 kHz float32 waveforms.

    Flite's voices (diphone ``kal``, clustergen ``awb``/``rms``/``slt`` ...) are other recordings
    and another method than espeak-ng's formants: a test of robustness, not of unseen timbres.
    """
    import shutil
    import subprocess
    import tempfile

    from rnnkit.data.audio import load_audio
    from rnnkit.errors import DataError, MissingDependencyError

    exe = shutil.which("flite")
    if exe is None:
        raise MissingDependencyError(
            "the Flite test set needs the Debian package flite: apt-get install flite."
        )
    waves = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (text, voice) in enumerate(zip(texts, voices, strict=True)):
            out = f"{tmp}/{i}.wav"
            done = subprocess.run(
                [exe, "-voice", voice, "-t", text, "-o", out], capture_output=True, check=False
            )
            if done.returncode != 0:
                raise DataError(
                    f"flite failed on {text!r} with voice {voice!r}: {done.stderr.decode().strip()}"
                )
            waves.append(load_audio(out, 16_000, max_seconds=None))
    return waves


def flite_strings(n: int = 100, seed: int = SPLIT_SEED) -> tuple[list[np.ndarray], list[str], list[str]]:
    """``n`` digit strings spoken by Flite, a synthesiser the models never train on, drawn with
    ``seed``, voices in turn; returns (16 kHz float32 waveforms, transcripts, voices), no noise added."""
    rng = np.random.default_rng([seed, 2000])
    texts, voices = [], []
    for i in range(n):
        k = int(rng.integers(1, MAX_DIGITS + 1))
        texts.append(" ".join(DIGITS[int(d)] for d in rng.integers(0, 10, size=k)))
        voices.append(FLITE_VOICES[i % len(FLITE_VOICES)])
    return flite_speak(texts, voices), texts, voices
