"""Speech data: a bundled spoken dataset or a folder of wavs, as features and label ids.

``data`` names a bundled dataset (``spoken_digit_strings``, ``spoken_digit_strings:small``,
``spoken_digits`` ...), split by voice so test voices are unseen, or a folder holding wavs and a
``transcripts.tsv`` (``file<TAB>text``; any WAV format, resampled). A user's folder is split
80/10/10 with the fixed seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnkit.data.audio import resample
from rnnkit.data.loaders import AudioClips, load_wav_folder
from rnnkit.errors import DataError
from rnnkit.tasks.audio.frontend import FrontEnd

SPLITS = ("train", "validation", "test")


@dataclass
class SpeechSplits:
    """Waveforms (at the front end's rate) and transcripts of train / validation / test."""

    waves: dict[str, list[np.ndarray]]
    texts: dict[str, list[str]]
    source: str

    def sizes(self) -> dict[str, int]:
        return {s: len(self.texts[s]) for s in SPLITS}


def _resampled(clips: AudioClips, rate: int) -> list[np.ndarray]:
    return [resample(w, clips.sample_rate, rate) for w in clips.waves]


def load_speech(data: str, frontend: FrontEnd, *, max_samples: int | None = None) -> SpeechSplits:
    """The three splits of ``data`` (a bundled dataset name or a folder with transcripts.tsv)."""
    path = Path(data)
    if path.is_dir():
        from rnnkit.datasets.registry import seeded_split

        clips = load_wav_folder(path)
        n = len(clips)
        if n < 10:
            raise DataError(f"{str(path)!r} holds {n} clips: at least 10 are needed to split 80/10/10.")
        tr, va, te = seeded_split(n, n // 10, n // 10)
        waves = _resampled(clips, frontend.sample_rate)
        parts = {"train": tr, "validation": va, "test": te}
        out_w = {s: [waves[i] for i in idx] for s, idx in parts.items()}
        out_t = {s: [clips.transcripts[i] for i in idx] for s, idx in parts.items()}
    else:
        from rnnkit import datasets

        ds = datasets.load(data)
        out_w = {s: _resampled(getattr(ds, s), frontend.sample_rate) for s in SPLITS}
        out_t = {s: list(getattr(ds, s).transcripts) for s in SPLITS}
    if max_samples is not None:  # a smoke run: the first clips of every split
        out_w = {s: w[:max_samples] for s, w in out_w.items()}
        out_t = {s: t[:max_samples] for s, t in out_t.items()}
    return SpeechSplits(out_w, out_t, data)


def featurize(waves: list[np.ndarray], frontend: FrontEnd) -> list[torch.Tensor]:
    """Every waveform's (T, M) normalised log-mel frames."""
    return [frontend.features(w) for w in waves]
