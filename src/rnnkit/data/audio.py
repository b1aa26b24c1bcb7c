"""Speech features with torch alone: log-mel spectrogram and MFCC (torchaudio is not needed).

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

import math

import numpy as np
import torch

from rnnkit.errors import ConfigError, ShapeError, invalid


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
