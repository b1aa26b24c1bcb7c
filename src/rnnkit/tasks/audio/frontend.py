"""The audio front end both speech tasks share: any WAV in, normalised log-mel frames out, batched.

:class:`FrontEnd` fixes the model's input: the sample rate, the mel bands and the longest clip
accepted. ``frontend.load(path_or_bytes)`` reads any WAV (8/16/24/32-bit, float, stereo, any
rate: see :func:`rnnkit.data.audio.load_audio`); ``frontend.features(wave)`` gives (T, M)
log-mel frames (25 ms Hann windows every 10 ms) normalised per utterance (CMVN), so loudness and
channel do not matter. :class:`FeatureBatches` pads length-sorted buckets of frames into
``((features (B, T, M), lengths (B,)), targets)`` batches for ``Model.fit``, with SpecAugment on
training batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.data.audio import load_audio, log_mel_spectrogram, normalize_features, spec_augment
from rnnkit.errors import ConfigError, invalid

N_FFT, HOP = 400, 160  # 25 ms windows every 10 ms at 16 kHz
TOP_DB = 80.0  # dynamic range kept below a clip's loudest mel energy


@dataclass(frozen=True)
class FrontEnd:
    """What a model hears: ``sample_rate`` Hz, ``n_mels`` log-mel bands, clips up to ``max_seconds``."""

    sample_rate: int = 16_000
    n_mels: int = 40
    max_seconds: float = 10.0
    # Gaussian dither (std, full scale 1.0) added before the STFT, from a fixed seed: -60 dBFS,
    # below the synthetic clips' own noise floor, so exact digital silence (a muted lead-in, 8-bit
    # quantisation) looks like the quiet the model trained on (0.5 s of zeros: 35% -> 2% WER)
    dither: float = 1e-3

    def load(self, source: str | Path | bytes) -> np.ndarray:
        """Any WAV -> float32 mono at ``sample_rate`` (DataError for anything unreadable or too long)."""
        return load_audio(source, self.sample_rate, max_seconds=self.max_seconds)

    def features(self, wave: np.ndarray | torch.Tensor) -> torch.Tensor:
        """(S,) waveform -> (T, n_mels) float32, T = S // 160 + 1 (clips under 25 ms are zero-padded)."""
        w = np.asarray(wave, dtype=np.float32)
        if self.dither:  # seeded: the same clip always gives the same features
            w = w + (np.random.default_rng(0).standard_normal(w.size) * self.dither).astype(np.float32)
        x = torch.as_tensor(w)
        if x.numel() <= N_FFT:  # reflect padding needs more than n_fft // 2 samples
            x = torch.nn.functional.pad(x, (0, N_FFT + 1 - x.numel()))
        mel = log_mel_spectrogram(x, self.sample_rate, n_fft=N_FFT, hop_length=HOP, n_mels=self.n_mels)
        # floor at 80 dB below the clip's peak (librosa's top_db): digital silence (exact zeros,
        # e.g. 8-bit quantisation of a quiet lead-in) would sit at log(1e-10) and, after CMVN,
        # squash the speech frames together (an 82% WER on clips with 0.5 s of zeros before them)
        mel = torch.maximum(mel, mel.max() - TOP_DB * math.log(10) / 10)
        return normalize_features(mel)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrontEnd:
        # runs saved before the dither existed get today's default: it only changes digital silence
        return cls(
            int(d["sample_rate"]), int(d["n_mels"]), float(d["max_seconds"]), float(d.get("dither", 1e-3))
        )


def pad_with_silence(
    waves: Sequence[np.ndarray], max_seconds: float, rate: int, seed: int
) -> list[np.ndarray]:
    """Each clip with 0..``max_seconds`` of its own background noise before it and 0..max/2 after.

    Synthesised clips start at their first sample of speech; a microphone recording, or another
    synthesiser's output, starts with silence, which a model that never heard any reads as speech
    (a digit string from Flite lost its first word this way). The noise level is the RMS of the
    clip's last 50 ms (espeak-ng's trailing pause: only the added noise); draws are seeded.
    """
    rng = np.random.default_rng(seed)
    out = []
    for w in waves:
        lead, trail = int(rng.uniform(0, max_seconds) * rate), int(rng.uniform(0, max_seconds / 2) * rate)
        tail = w[-rate // 20 :].astype(np.float64)
        floor = float(np.sqrt(np.mean(tail**2))) if tail.size else 0.0
        noise = rng.standard_normal(lead + trail) * floor
        out.append(np.concatenate([noise[:lead], w, noise[lead:]]).astype(np.float32))
    return out


def pad_frames(frames: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad (T_i, M) matrices with zeros -> ((B, T_max, M), lengths (B,) int64)."""
    lengths = torch.tensor([f.shape[0] for f in frames], dtype=torch.int64)
    return torch.nn.utils.rnn.pad_sequence(list(frames), batch_first=True), lengths


class FeatureBatches:
    """Batches of padded features for ``Model.fit`` / ``evaluate``: an iterable with a length.

    ``targets[i]`` is either a list of label ids (CTC: batches carry ``(ids (B, L) padded
    with 0, lengths (B,))``) or one class id (batches carry (B,) int64). Examples are grouped
    into buckets of similar length (less padding); with ``shuffle`` the buckets and their
    order change every pass, drawn from ``seed`` and the pass number, so a run is repeatable.
    ``augment`` applies :func:`~rnnkit.data.audio.spec_augment` to every example of a batch.
    """

    def __init__(
        self,
        frames: Sequence[torch.Tensor],
        targets: Sequence[Any],
        batch_size: int,
        *,
        shuffle: bool = False,
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
        seed: int = 0,
    ) -> None:
        if len(frames) != len(targets) or not frames:
            raise ConfigError(
                invalid("frames, targets", (len(frames), len(targets)), "equal non-zero counts")
            )
        if batch_size < 1:
            raise ConfigError(invalid("batch_size", batch_size, "a positive integer"))
        self.frames, self.targets = list(frames), list(targets)
        self.batch_size, self.shuffle, self.augment, self.seed = batch_size, shuffle, augment, seed
        self.epoch = 0
        self.ctc = isinstance(self.targets[0], (list, tuple))

    def __len__(self) -> int:
        return math.ceil(len(self.frames) / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass draw as pass ``epoch`` would (for resumed runs)."""
        self.epoch = epoch

    def _order(self, gen: torch.Generator) -> list[list[int]]:
        n = len(self.frames)
        lengths = np.array([f.shape[0] for f in self.frames])
        if not self.shuffle:
            order = np.argsort(lengths, kind="stable")
            return [order[i : i + self.batch_size].tolist() for i in range(0, n, self.batch_size)]
        # sort a random permutation by length within chunks of 50 batches, then shuffle the batches
        perm = torch.randperm(n, generator=gen).numpy()
        chunk = 50 * self.batch_size
        batches = []
        for s in range(0, n, chunk):
            part = perm[s : s + chunk]
            part = part[np.argsort(lengths[part], kind="stable")]
            batches += [part[i : i + self.batch_size].tolist() for i in range(0, len(part), self.batch_size)]
        return [batches[i] for i in torch.randperm(len(batches), generator=gen).tolist()]

    def __iter__(self) -> Iterator[tuple[tuple[torch.Tensor, torch.Tensor], Any]]:
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        self.epoch += 1
        for idx in self._order(gen):
            frames = [self.frames[i] for i in idx]
            if self.augment is not None:
                frames = [self.augment(f, gen) for f in frames]
            x = pad_frames(frames)
            if self.ctc:
                ids = [torch.as_tensor(self.targets[i], dtype=torch.int64) for i in idx]
                lens = torch.tensor([len(t) for t in ids], dtype=torch.int64)
                y: Any = (torch.nn.utils.rnn.pad_sequence(ids, batch_first=True), lens)
            else:
                y = torch.tensor([self.targets[i] for i in idx], dtype=torch.int64)
            yield x, y


class CappedBatches:
    """At most ``steps`` batches of each pass over ``batches`` (smoke runs: ``max_steps``)."""

    def __init__(self, batches: FeatureBatches, steps: int) -> None:
        self.batches, self.steps = batches, steps

    def __len__(self) -> int:
        return min(len(self.batches), self.steps)

    def __iter__(self) -> Iterator[Any]:
        for i, b in enumerate(self.batches):
            if i >= self.steps:
                break
            yield b


def default_augment(
    freq_width: int = 8, time_width: int = 10
) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """SpecAugment with two frequency and two time masks (the LibriSpeech 'LB' policy, scaled down)."""

    def augment(f: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return spec_augment(f, freq_width=freq_width, time_width=time_width, generator=gen)

    return augment
