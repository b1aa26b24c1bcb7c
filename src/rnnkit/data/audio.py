"""Audio in, features out: reading any WAV, resampling, log-mel spectrogram, MFCC, SpecAugment.

Features are computed with torch alone (torchaudio is not needed); reading and resampling use
scipy (:func:`read_audio`, :func:`resample`, :func:`load_audio`).

The pipeline, for a waveform sampled at ``sample_rate`` Hz:

1. power spectrogram ``|STFT|^2`` with :func:`torch.stft` (Hann window, ``center=True``,
   reflect padding), so frame t is centred on sample ``t * hop_length``;
2. a triangular mel filterbank on the HTK mel scale ``mel(f) = 2595 log10(1 + f / 700)``,
   without area normalisation (torchaudio's ``melscale_fbanks(norm=None, mel_scale="htk")``,
   the defaults of ``torchaudio.transforms.MelSpectrogram``);
3. natural log with a floor (``log(max(mel, floor))``), so silence does not give -inf;
4. for MFCC, an orthonormal DCT-II over the mel axis, keeping the first ``n_mfcc``.

Shapes: S samples; F = n_fft // 2 + 1 frequency bins; T = S // hop_length + 1 frames;
M mel bands. Features come out time-first, ``(T, M)`` or ``(B, T, M)``, the layout the
recurrent layers take. The defaults (25 ms window, 10 ms hop at 16 kHz, 80 mels) are the
usual speech-recognition ones.

.. note:: torchaudio's ``MFCC`` takes the log in decibels (``10 log10``, ``top_db=80``);
   ours is the natural log, so its coefficients are ours times ``10 / ln(10)`` where
   ``top_db`` does not clip.
"""

from __future__ import annotations

import importlib
import io
import math
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.errors import ConfigError, DataError, MissingDependencyError, ShapeError, invalid


def hz_to_mel(hz: torch.Tensor | float) -> torch.Tensor:
    """HTK mel scale."""
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def mel_to_hz(mel: torch.Tensor | float) -> torch.Tensor:
    return 700.0 * (10.0 ** (torch.as_tensor(mel, dtype=torch.float64) / 2595.0) - 1.0)


def mel_filterbank(
    n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0, f_max: float | None = None
) -> torch.Tensor:
    """(n_freqs, n_mels) float32 triangular filters; ``power_spec @ fb`` gives mel energies.

    Filter m rises from mel point m to m+1 and falls to m+2, where the n_mels + 2 points are
    evenly spaced in mel between ``f_min`` and ``f_max`` (default: Nyquist); its peak is 1.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ConfigError(invalid("f_min, f_max", (f_min, f_max), f"0 <= f_min < f_max <= {sample_rate / 2}"))
    if n_mels < 1 or n_freqs < 2:
        raise ConfigError(invalid("n_mels, n_freqs", (n_mels, n_freqs), "n_mels >= 1 and n_freqs >= 2"))
    freqs = torch.linspace(0, sample_rate / 2, n_freqs, dtype=torch.float64)  # (F,)
    points = mel_to_hz(torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)), n_mels + 2))
    lower, centre, upper = points[:-2], points[1:-1], points[2:]  # (M,) each
    rising = (freqs[:, None] - lower) / (centre - lower)  # (F, M)
    falling = (upper - freqs[:, None]) / (upper - centre)  # (F, M)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).to(torch.float32)


def dct_matrix(n_mfcc: int, n_mels: int) -> torch.Tensor:
    """(n_mels, n_mfcc) orthonormal DCT-II: ``log_mel @ D`` gives MFCCs (as scipy's ``dct(norm="ortho")``)."""
    if not 1 <= n_mfcc <= n_mels:
        raise ConfigError(invalid("n_mfcc", n_mfcc, f"an integer in [1, n_mels={n_mels}]"))
    n = torch.arange(n_mels, dtype=torch.float64)[:, None]  # (M, 1)
    k = torch.arange(n_mfcc, dtype=torch.float64)[None, :]  # (1, C)
    d = torch.cos(math.pi / n_mels * (n + 0.5) * k) * math.sqrt(2.0 / n_mels)  # (M, C)
    d[:, 0] /= math.sqrt(2.0)
    return d.to(torch.float32)


def _as_batch(wave: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, bool]:
    x = torch.as_tensor(wave)
    if not x.is_floating_point():
        raise ConfigError(invalid("wave dtype", x.dtype, "a floating-point waveform in [-1, 1]"))
    if x.dim() not in (1, 2):
        raise ShapeError(f"wave must be (S,) or (B, S), got shape {tuple(x.shape)}.")
    return (x[None] if x.dim() == 1 else x), x.dim() == 1


def log_mel_spectrogram(
    wave: torch.Tensor | np.ndarray,
    sample_rate: int = 16_000,
    *,
    n_fft: int = 400,
    hop_length: int = 160,
    n_mels: int = 80,
    f_min: float = 0.0,
    f_max: float | None = None,
    floor: float = 1e-10,
) -> torch.Tensor:
    """Log mel energies of (S,) or (B, S) waveforms -> (T, n_mels) or (B, T, n_mels) float32.

    T = S // hop_length + 1 (centred frames). Batch rows must be padded to one length; the
    frames of row b past ``len_b // hop_length + 1`` then describe padding.
    """
    x, single = _as_batch(wave)
    if x.shape[-1] <= n_fft // 2:
        raise ShapeError(
            f"wave has {x.shape[-1]} samples: reflect padding needs more than n_fft // 2 = {n_fft // 2}."
        )
    window = torch.hann_window(n_fft, dtype=x.dtype, device=x.device)
    spec = torch.stft(x, n_fft, hop_length, window=window, center=True, return_complex=True)  # (B, F, T)
    power = spec.real**2 + spec.imag**2  # (B, F, T)
    fb = mel_filterbank(n_fft // 2 + 1, n_mels, sample_rate, f_min, f_max).to(x)  # (F, M)
    mel = power.transpose(1, 2) @ fb  # (B, T, F) @ (F, M) -> (B, T, M)
    out = torch.log(torch.clamp(mel, min=floor))
    return out[0] if single else out


def mfcc(
    wave: torch.Tensor | np.ndarray,
    sample_rate: int = 16_000,
    *,
    n_mfcc: int = 13,
    n_mels: int = 40,
    n_fft: int = 400,
    hop_length: int = 160,
    f_min: float = 0.0,
    f_max: float | None = None,
) -> torch.Tensor:
    """MFCCs: DCT-II (orthonormal) of the log mel spectrogram -> (T, n_mfcc) or (B, T, n_mfcc)."""
    logmel = log_mel_spectrogram(
        wave, sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, f_min=f_min, f_max=f_max
    )
    return logmel @ dct_matrix(n_mfcc, n_mels).to(logmel)  # (..., T, M) @ (M, C) -> (..., T, C)


# --- reading any WAV, resampling, SpecAugment ---------------------------------------------------
# What every audio task shares: ``load_audio`` turns whatever WAV a user gives (8/16/24/32-bit
# integer or 32/64-bit float, mono or multi-channel, any rate) into the float32 mono waveform at
# the model's rate, or raises one DataError saying what is wrong with the file.

MAX_SECONDS = 30.0  # the default length limit of one clip


def _scipy(module: str) -> Any:
    """``scipy.io.wavfile`` / ``scipy.signal``, or a MissingDependencyError naming the extra."""
    try:
        return importlib.import_module(f"scipy.{module}")
    except ImportError:
        raise MissingDependencyError(
            "reading and resampling audio needs scipy: pip install 'rnnkit[speech]'."
        ) from None


def read_audio(source: str | Path | bytes) -> tuple[np.ndarray, int]:
    """A WAV file (path or bytes) as ``(float32 mono waveform in [-1, 1], sample rate)``.

    Reads PCM 8-bit (unsigned), 16/24/32-bit (signed) and IEEE float 32/64-bit, plain or
    WAVE_FORMAT_EXTENSIBLE, through :func:`scipy.io.wavfile.read`. Channels are averaged.
    Integers are scaled by 2^(bits-1) (so -32768 -> -1.0), floats are taken as they are.
    """
    wavfile = _scipy("io.wavfile")
    name = "the uploaded audio" if isinstance(source, (bytes, bytearray)) else repr(str(source))
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise DataError(f"cannot read {name}: {exc.strerror or exc}.") from None
    if not data:
        raise DataError(f"{name} is an empty file: expected a WAV file.")
    if data[:4] not in (b"RIFF", b"RIFX") or data[8:12] != b"WAVE":
        raise DataError(f"{name} is not a WAV file (no RIFF/WAVE header).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)  # e.g. unknown LIST chunks
            rate, samples = wavfile.read(io.BytesIO(data))
    except (ValueError, EOFError, OSError, struct.error) as exc:  # struct.error: a truncated header
        raise DataError(f"{name} is not a readable WAV file: {exc}.") from None
    if samples.dtype == np.uint8:  # 8-bit PCM is unsigned, centred on 128
        audio = (samples.astype(np.float32) - 128.0) / 128.0
    elif samples.dtype.kind == "i":  # 24-bit arrives as int32 scaled up by scipy
        audio = samples.astype(np.float32) / float(-np.iinfo(samples.dtype).min)
    elif samples.dtype.kind == "f":
        audio = samples.astype(np.float32)
    else:
        raise DataError(f"{name} has samples of type {samples.dtype}: expected PCM integer or float.")
    if audio.ndim == 2:
        audio = audio.mean(axis=1)  # (S, channels) -> (S,)
    if audio.size == 0:
        raise DataError(f"{name} holds no samples (0 frames).")
    if not np.all(np.isfinite(audio)):
        raise DataError(f"{name} holds NaN or infinite samples.")
    return np.ascontiguousarray(audio, dtype=np.float32), int(rate)


def resample(wave: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample a 1-D waveform with a polyphase anti-aliasing FIR (:func:`scipy.signal.resample_poly`).

    The rate changes by up/down = target/orig reduced by their gcd; the low-pass (a Kaiser
    window, beta 5) cuts at the lower of the two Nyquist frequencies, so 48 kHz -> 16 kHz does
    not fold 8-24 kHz content into the speech band. Output length: ceil(S * up / down).
    """
    if orig_rate <= 0 or target_rate <= 0:
        raise ConfigError(invalid("sample rates", (orig_rate, target_rate), "positive integers"))
    if orig_rate == target_rate:
        return np.asarray(wave, dtype=np.float32)
    resample_poly = _scipy("signal").resample_poly
    g = math.gcd(int(orig_rate), int(target_rate))
    out = resample_poly(np.asarray(wave, dtype=np.float64), target_rate // g, orig_rate // g)
    return out.astype(np.float32)


def load_audio(
    source: str | Path | bytes,
    sample_rate: int = 16_000,
    *,
    max_seconds: float | None = MAX_SECONDS,
) -> np.ndarray:
    """Any WAV -> float32 mono waveform at ``sample_rate``; refuses clips over ``max_seconds``."""
    audio, rate = read_audio(source)
    seconds = audio.size / rate
    if max_seconds is not None and seconds > max_seconds:
        raise DataError(f"the clip lasts {seconds:.1f} s: at most {max_seconds:g} s is accepted.")
    return resample(audio, rate, sample_rate)


def write_wav(path: str | Path, wave: np.ndarray, sample_rate: int, *, bits: int = 16) -> None:
    """Write a mono (S,) or multi-channel (S, C) float waveform in [-1, 1] as PCM (8/16/32-bit)
    or, with ``bits=-32``, IEEE float; atomically."""
    from rnnkit.utils.io import atomic_path

    wavfile = _scipy("io.wavfile")

    x = np.clip(np.asarray(wave, dtype=np.float64), -1.0, 1.0)
    if bits == 8:
        data: np.ndarray = np.round(x * 127.0 + 128.0).astype(np.uint8)
    elif bits in (16, 32):
        scale = float(np.iinfo(f"int{bits}").max)
        data = np.round(x * scale).astype(f"<i{bits // 8}")
    elif bits == -32:
        data = x.astype("<f4")
    else:
        raise ConfigError(invalid("bits", bits, (8, 16, 32, -32)))
    with atomic_path(Path(path)) as tmp:
        wavfile.write(tmp, int(sample_rate), data)


def spec_augment(
    features: torch.Tensor,
    *,
    freq_masks: int = 2,
    freq_width: int = 8,
    time_masks: int = 2,
    time_width: int = 10,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """SpecAugment's masking (Park et al. 2019, sections 2 and 3, without time warping).

    On a (T, M) feature matrix: ``freq_masks`` bands of f ~ U[0, freq_width] consecutive mel
    channels and ``time_masks`` spans of t ~ U[0, min(time_width, T // 5)] frames are set to the
    matrix's mean (the value normalised features have at 0). Returns a new tensor.
    """
    if features.dim() != 2:
        raise ShapeError(f"spec_augment takes (T, M) features, got shape {tuple(features.shape)}.")
    out = features.clone()
    t_len, m_len = out.shape
    fill = out.mean()

    def draw(high: int) -> int:
        return int(torch.randint(0, high + 1, (1,), generator=generator))

    for _ in range(freq_masks):
        f = draw(min(freq_width, m_len))
        f0 = draw(m_len - f)
        out[:, f0 : f0 + f] = fill
    limit = min(time_width, t_len // 5)
    for _ in range(time_masks):
        t = draw(limit)
        t0 = draw(t_len - t)
        out[t0 : t0 + t, :] = fill
    return out


def normalize_features(features: torch.Tensor) -> torch.Tensor:
    """Per-utterance mean and variance normalisation over time (CMVN) of (T, M) features."""
    mean = features.mean(dim=0, keepdim=True)
    std = features.std(dim=0, keepdim=True, unbiased=False)
    return (features - mean) / (std + 1e-5)
