"""Keyword-spotting data: ten command words, plus "_unknown_" (other words) and "_silence_" (noise).

``data="spoken_words"`` gives the ten Speech Commands words (yes, no, up, down, left, right, on,
off, stop, go); its unknown words are the spoken digits; ``data="spoken_digits"`` swaps the two.
Both sets are split by voice variant with the same held-out voices, so the unknown clips of a
split come from that split's speakers too. Per split, unknown and silence get as many clips as
one command word: unknown drawn with the fixed seed, silence synthesised as 1 s of Gaussian noise
at a level drawn log-uniformly between -80 and -30 dBFS (a quiet room to a hiss).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.datasets.registry import SPLIT_NAMES as SPLITS
from rnnkit.datasets.registry import SPLIT_SEED
from rnnkit.errors import ConfigError, invalid

UNKNOWN, SILENCE = "_unknown_", "_silence_"
OTHER = {"spoken_words": "spoken_digits", "spoken_digits": "spoken_words"}


@dataclass
class CommandSplits:
    """Waveforms (16 kHz) and class ids of each split; ``classes[i]`` names class i."""

    classes: list[str]
    waves: dict[str, list[np.ndarray]]
    labels: dict[str, list[int]]

    def sizes(self) -> dict[str, int]:
        return {s: len(self.labels[s]) for s in SPLITS}

    def subsample(self, n: int, seed: int) -> CommandSplits:
        """At most ``n`` clips of each split, drawn with ``seed`` (smoke runs)."""
        waves, labels = {}, {}
        for k, s in enumerate(SPLITS):
            m = len(self.labels[s])
            idx = sorted(np.random.default_rng([seed, k]).permutation(m)[: min(n, m)].tolist())
            waves[s] = [self.waves[s][i] for i in idx]
            labels[s] = [self.labels[s][i] for i in idx]
        return CommandSplits(self.classes, waves, labels)


def silence(n: int, seconds: float, rate: int, seed: int) -> list[np.ndarray]:
    """``n`` clips of white noise at -80 ... -30 dBFS RMS, from a seeded generator."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        level = 10 ** (rng.uniform(-80, -30) / 20)
        out.append((rng.standard_normal(int(seconds * rate)) * level).astype(np.float32))
    return out


def load_commands(data: str, *, unknown: bool = True, with_silence: bool = True) -> CommandSplits:
    """The ten words of ``data`` (``spoken_words`` or ``spoken_digits``) with unknown and silence."""
    from rnnkit import datasets

    if data not in OTHER:
        raise ConfigError(invalid("data", data, sorted(OTHER)))
    words: Any = datasets.load(data)  # a SpokenDataset (classes, splits of AudioClips)
    other: Any = datasets.load(OTHER[data]) if unknown else None
    classes = [*words.classes, *([UNKNOWN] if unknown else []), *([SILENCE] if with_silence else [])]
    waves: dict[str, list[np.ndarray]] = {}
    labels: dict[str, list[int]] = {}
    for k, split in enumerate(SPLITS):
        clips = getattr(words, split)
        per_class = len(clips) // len(words.classes)
        w = list(clips.waves)
        y = [classes.index(t) for t in clips.transcripts]
        if other is not None:
            pool = getattr(other, split).waves
            pick = np.random.default_rng([SPLIT_SEED, k]).choice(len(pool), per_class, replace=False)
            w += [pool[i] for i in sorted(pick)]
            y += [classes.index(UNKNOWN)] * per_class
        if with_silence:
            w += silence(per_class, 1.0, clips.sample_rate, seed=SPLIT_SEED * 10 + k)
            y += [classes.index(SILENCE)] * per_class
        waves[split], labels[split] = w, y
    return CommandSplits(classes, waves, labels)
