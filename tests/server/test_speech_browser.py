"""The speech and commands tabs in Chromium, with a WAV file as the microphone.

Chromium's fake-media flags (``--use-fake-ui-for-media-stream`` grants the permission,
``--use-fake-device-for-media-stream --use-file-for-fake-audio-capture=FILE`` plays FILE as
the microphone) let the page record a known clip. The test clicks Record, stops, and checks that
(1) what the page uploaded is the clip (the page's own capture, resampling and WAV encoding:
cross-correlation with the clip), and (2) the transcript shown is the server's transcript of
that upload. The commands tab gets a WAV through its file input. Tiny models trained for one
epoch: this checks the plumbing from microphone to page, not recognition quality.
"""

from __future__ import annotations

import base64
import json
import shutil

import numpy as np
import pytest
from tests.helpers import BROWSER_MARKS, chromium_page, serve_runs

MEDIA_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]

pytestmark = [
    *BROWSER_MARKS,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs Debian espeak-ng and sox"),
]


@pytest.fixture(scope="module")
def audio_runs(tmp_path_factory):
    from rnnkit.tasks import runs
    from rnnkit.tasks.commands.config import CommandsConfig
    from rnnkit.tasks.commands.train import train as train_commands
    from rnnkit.tasks.speech.config import SpeechConfig
    from rnnkit.tasks.speech.train import train as train_speech

    root = tmp_path_factory.mktemp("audio-runs")
    small = {"units": 16, "num_layers": 1, "conv_channels": 16, "epochs": 1, "batch_size": 32}
    train_speech(
        SpeechConfig(data="spoken_digit_strings:tiny", stride=3, beam=2, **small),
        runs.TrainOptions(out=root / "asr", quiet=True),
    )
    train_commands(CommandsConfig(max_samples=64, **small), runs.TrainOptions(out=root / "kws", quiet=True))
    return root / "asr", root / "kws"


@pytest.fixture(scope="module")
def live_url(audio_runs):
    with serve_runs(audio_runs) as url:
        yield url


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Peak normalised cross-correlation of two waveforms over every lag."""
    a, b = a - a.mean(), b - b.mean()
    n = len(a) + len(b)
    c = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)
    return float(np.abs(c).max() / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_microphone_to_transcript_and_file_to_command(audio_runs, live_url, tmp_path):
    expect = pytest.importorskip("playwright.sync_api").expect
    from rnnkit import datasets
    from rnnkit.data.audio import read_audio, write_wav
    from rnnkit.tasks.commands.predictor import CommandRecognizer
    from rnnkit.tasks.speech.predictor import Transcriber

    clip = datasets.load("spoken_digit_strings:tiny").test.waves[2]
    mic = tmp_path / "mic.wav"
    # silence, the clip, silence: the recording starts a little after the device opens
    write_wav(mic, np.concatenate([np.zeros(4000), clip, np.zeros(16000)]), 16_000)
    uploads: list[dict] = []
    with chromium_page(*MEDIA_ARGS, f"--use-file-for-fake-audio-capture={mic}%noloop") as (page, problems):
        page.on("request", lambda r: uploads.append(json.loads(r.post_data)) if r.method == "POST" else None)
        page.goto(live_url + "/")
        section = page.locator("#speech-section")
        expect(section.locator("h2")).to_have_text("Speech to text")
        section.locator("#speech-beam").uncheck()  # greedy: the same decoder in both checks
        section.locator("#speech-record").click()
        expect(section.locator("#speech-record")).to_have_text("■ Stop")
        page.wait_for_timeout(len(clip) / 16 + 1200)  # the clip's length in ms, and a margin
        section.locator("#speech-record").click()
        expect(section.locator("#speech-info")).to_contain_text("greedy")
        shown = section.locator("#speech-text").inner_text()

        kws = page.locator("#commands-section")
        spoken = datasets.load("spoken_words").test
        write_wav(tmp_path / "word.wav", spoken.waves[0], 16_000, bits=-32)
        kws.locator("#commands-file").set_input_files(str(tmp_path / "word.wav"))
        expect(kws.locator("#commands-heard")).to_contain_text("%")
        heard = kws.locator("#commands-heard").inner_text()
        assert problems == []
    speech_body = next(u for u in uploads if "beam" in u)
    assert speech_body["beam"] == 0
    uploaded = base64.b64decode(speech_body["audio"])
    wave, rate = read_audio(uploaded)
    assert rate == 16_000 and 0.8 * len(clip) < len(wave) <= 5 * 16_000
    assert correlation(wave, clip) > 0.5  # the page recorded the clip, not silence or noise
    expected = Transcriber.load(audio_runs[0]).transcribe(uploaded, beam=0).text
    assert shown == (expected or "(nothing recognised)")
    command = CommandRecognizer.load(audio_runs[1]).recognize(tmp_path / "word.wav").command
    assert heard.startswith(command + " (")
