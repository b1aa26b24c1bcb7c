"""rnnkit.data.audio: reading every WAV flavour, anti-aliased resampling, SpecAugment, CMVN, bad files."""

import wave

import numpy as np
import pytest
import torch

from rnnkit.data.audio import (
    load_audio,
    normalize_features,
    read_audio,
    resample,
    spec_augment,
    write_wav,
)
from rnnkit.errors import DataError, ShapeError

RATE = 16_000


def tone(freq: float, seconds: float = 0.5, rate: int = RATE, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


@pytest.mark.parametrize(("bits", "tol"), [(8, 1 / 127), (16, 1 / 32767), (32, 1e-7), (-32, 1e-7)])
def test_pcm_and_float_round_trip(tmp_path, bits, tol):
    x = tone(440)
    write_wav(tmp_path / "a.wav", x, RATE, bits=bits)
    y, rate = read_audio(tmp_path / "a.wav")
    assert rate == RATE and y.dtype == np.float32 and y.shape == x.shape
    assert np.abs(y - x).max() <= tol


def test_24_bit_is_read_and_scaled(tmp_path):
    # wave writes 24-bit PCM; scipy reads it into int32 shifted left by 8 bits
    ints = np.array([0, 2**23 - 1, -(2**23), 2**22], dtype=np.int64)
    raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints)
    with wave.open(str(tmp_path / "a.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(3)
        w.setframerate(8000)
        w.writeframes(raw)
    y, rate = read_audio(tmp_path / "a.wav")
    assert rate == 8000
    np.testing.assert_allclose(y, ints / 2**23, atol=1e-7)


def test_stereo_is_mixed_down_and_bytes_are_accepted(tmp_path):
    left, right = tone(440), tone(660, amp=0.25)
    write_wav(tmp_path / "s.wav", np.stack([left, right], axis=1), RATE)
    y, _ = read_audio((tmp_path / "s.wav").read_bytes())
    np.testing.assert_allclose(y, (left + right) / 2, atol=2 / 32767)


def test_resampling_keeps_speech_band_and_removes_aliases():
    rate = 48_000
    x = tone(1000, 1.0, rate) + tone(11_000, 1.0, rate)  # 11 kHz would alias to 5 kHz at 16 kHz
    y = resample(x, rate, RATE)
    assert y.shape == (RATE,) and y.dtype == np.float32
    spec = np.abs(np.fft.rfft(y[1000:-1000] * np.hanning(RATE - 2000)))
    freqs = np.fft.rfftfreq(RATE - 2000, 1 / RATE)
    at = lambda f: spec[np.argmin(np.abs(freqs - f))]  # noqa: E731
    assert at(1000) > 1000 * at(5000)  # the alias is > 60 dB below the kept tone
    # naive decimation (every 3rd sample) folds the 11 kHz tone onto 5 kHz at full strength
    naive = np.abs(np.fft.rfft(x[::3][1000:-1000] * np.hanning(RATE - 2000)))
    assert naive[np.argmin(np.abs(freqs - 5000))] > 0.3 * at(1000)


def test_load_audio_resamples_8_bit_48k_stereo(tmp_path):
    x = tone(300, 0.5, 48_000)
    write_wav(tmp_path / "a.wav", np.stack([x, x], axis=1), 48_000, bits=8)
    y = load_audio(tmp_path / "a.wav", RATE)
    assert y.shape == (8000,)
    np.testing.assert_allclose(y[500:-500], tone(300)[500:-500], atol=0.02)


def test_bad_files_raise_one_clear_error(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(DataError, match="is an empty file"):
        read_audio(tmp_path / "empty.wav")
    (tmp_path / "text.wav").write_text("hello, not audio")
    with pytest.raises(DataError, match="is not a WAV file"):
        read_audio(tmp_path / "text.wav")
    write_wav(tmp_path / "zero.wav", np.zeros(0), RATE)
    with pytest.raises(DataError, match="holds no samples"):
        read_audio(tmp_path / "zero.wav")
    data = (tmp_path / "zero.wav").read_bytes()
    with pytest.raises(DataError, match="not a readable WAV file"):
        read_audio(data[:20] + b"\x00" * 3)  # a truncated header
    write_wav(tmp_path / "long.wav", np.zeros(RATE * 3), RATE)
    with pytest.raises(DataError, match=r"the clip lasts 3.0 s: at most 2 s is accepted"):
        load_audio(tmp_path / "long.wav", RATE, max_seconds=2)
    with pytest.raises(DataError, match="cannot read"):
        read_audio(tmp_path / "missing.wav")


def test_spec_augment_masks_bands_and_spans_reproducibly():
    f = torch.randn(100, 40)
    a = spec_augment(
        f, freq_masks=1, freq_width=8, time_masks=1, time_width=10, generator=torch.Generator().manual_seed(3)
    )
    b = spec_augment(
        f, freq_masks=1, freq_width=8, time_masks=1, time_width=10, generator=torch.Generator().manual_seed(3)
    )
    assert torch.equal(a, b) and a.shape == f.shape and not torch.equal(a, f)
    changed = a != f
    cols, rows = changed.all(0), changed.all(1)  # whole mel bands and whole frames
    assert 0 < int(cols.sum()) <= 8 and int(rows.sum()) <= 10
    assert torch.equal(changed, cols[None, :] | rows[:, None])  # nothing else touched
    assert torch.allclose(a[changed], f.mean().expand(int(changed.sum())))
    assert torch.equal(spec_augment(f, freq_masks=0, time_masks=0), f)
    with pytest.raises(ShapeError):
        spec_augment(torch.zeros(2, 3, 4))


def test_normalize_features_gives_zero_mean_unit_variance_per_band():
    f = torch.randn(50, 8) * 3 + 7
    g = normalize_features(f)
    torch.testing.assert_close(g.mean(0), torch.zeros(8), atol=1e-5, rtol=0)
    torch.testing.assert_close(g.std(0, unbiased=False), torch.ones(8), atol=1e-4, rtol=0)


def test_missing_scipy_names_the_extra(monkeypatch, tmp_path):
    import sys

    from rnnkit.errors import MissingDependencyError

    write_wav(tmp_path / "a.wav", tone(440), RATE)
    monkeypatch.setitem(sys.modules, "scipy.io.wavfile", None)  # import now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"needs scipy: pip install 'rnnkit\[speech\]'"):
        read_audio(tmp_path / "a.wav")
