"""Keyword spotting: masked pooling ignores padding, the unknown/silence classes, training into a
run directory, recognition of any WAV, the confusion matrix, and bad input."""

import shutil

import numpy as np
import pytest
import torch

from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks.commands.data import SILENCE, UNKNOWN, silence
from rnnkit.tasks.commands.model import CommandClassifier

HAVE_ESPEAK = shutil.which("espeak-ng") is not None and shutil.which("sox") is not None
needs_espeak = pytest.mark.skipif(not HAVE_ESPEAK, reason="needs Debian espeak-ng and sox")


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_padding_does_not_change_the_logits(cell):
    model = CommandClassifier(8, 5, cell=cell, units=6, num_layers=2, conv_channels=4, stride=2)
    model.eval()
    x = torch.randn(1, 21, 8)
    alone = model(x, torch.tensor([21]))
    padded = torch.cat([x, torch.randn(1, 9, 8) * 5], dim=1)  # garbage after the end
    batch = torch.cat([padded, torch.randn(1, 30, 8)])
    torch.testing.assert_close(model(batch, torch.tensor([21, 30]))[:1], alone, atol=1e-5, rtol=1e-5)


def test_silence_is_seeded_and_quiet():
    a, b = silence(3, 1.0, 16_000, seed=5), silence(3, 1.0, 16_000, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True)) and a[0].shape == (16_000,)
    rms = [float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) for x in a]
    assert all(10 ** (-81 / 20) < r < 10 ** (-29 / 20) for r in rms)


def test_config_refuses_unknown_data():
    from rnnkit.tasks.commands.config import CommandsConfig

    with pytest.raises(ConfigError, match="data='imdb' is not valid"):
        CommandsConfig(data="imdb")


@needs_espeak
def test_commands_split_by_voice_with_unknown_and_silence():
    from rnnkit.tasks.commands.data import load_commands

    d = load_commands("spoken_words")
    assert d.classes[-2:] == [UNKNOWN, SILENCE] and len(d.classes) == 12
    assert d.sizes() == {"train": 768, "validation": 192, "test": 192}  # + 64/16/16 unknown and silence
    for split in ("train", "test"):
        counts = np.bincount(d.labels[split], minlength=12)
        assert len(set(counts.tolist())) == 1  # balanced: unknown and silence as big as one word


@pytest.fixture(scope="module")
def kws_run(tmp_path_factory):
    from rnnkit.tasks import runs
    from rnnkit.tasks.commands.config import CommandsConfig
    from rnnkit.tasks.commands.train import train

    out = tmp_path_factory.mktemp("kws")
    cfg = CommandsConfig(units=16, num_layers=1, conv_channels=16, epochs=2, max_samples=96, batch_size=32)
    return out, train(cfg, runs.TrainOptions(out=out, quiet=True))


@needs_espeak
def test_train_and_recognize(kws_run, tmp_path):
    from rnnkit.data.audio import write_wav
    from rnnkit.tasks.commands.predictor import CommandRecognizer

    out, metrics = kws_run
    assert metrics["samples"] == {"train": 96, "validation": 96, "test": 96}
    cm = np.array(metrics["test_confusion"])
    assert cm.shape == (12, 12) and cm.sum() == 96
    assert metrics["test_accuracy"] == pytest.approx(np.trace(cm) / 96, abs=1e-5)
    png = (out / "confusion-test.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    model = CommandRecognizer.load(out)
    write_wav(tmp_path / "s.wav", np.stack([silence(1, 0.5, 44_100, 1)[0]] * 2, axis=1), 44_100, bits=-32)
    r = model.recognize(tmp_path / "s.wav")
    assert r.command in model.classes and sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    (tmp_path / "no.wav").write_bytes(b"RIFF\x00\x00")
    with pytest.raises(DataError, match="is not a WAV file"):
        model.recognize(tmp_path / "no.wav")
    write_wav(tmp_path / "long.wav", np.zeros(16_000 * 6), 16_000)
    with pytest.raises(DataError, match="at most 5 s"):
        model.recognize(tmp_path / "long.wav")


@needs_espeak
def test_a_run_of_another_task_is_refused(kws_run):
    from rnnkit.tasks.speech.predictor import Transcriber

    out, _ = kws_run
    with pytest.raises(ConfigError, match="holds a 'commands' run: expected a 'speech' run"):
        Transcriber.load(out)


@needs_espeak
def test_recognize_command_and_its_errors(kws_run, tmp_path, capsys):
    import json

    from rnnkit.cli.main import main
    from rnnkit.data.audio import write_wav

    def run(argv):
        with pytest.raises(SystemExit) as info:
            main(argv)
        o = capsys.readouterr()
        return info.value.code, o.out, o.err

    out, _ = kws_run
    write_wav(tmp_path / "q.wav", silence(1, 1.0, 8_000, 2)[0], 8_000, bits=8)  # 8-bit, 8 kHz: resampled
    code, stdout, err = run(["recognize", str(out), str(tmp_path / "q.wav"), "--json"])
    assert code == 0 and err == ""
    (row,) = json.loads(stdout)
    assert row["command"] in row["probabilities"] and len(row["probabilities"]) == 12
    write_wav(tmp_path / "empty.wav", np.zeros(0), 16_000)
    code, stdout, err = run(["recognize", str(out), str(tmp_path / "empty.wav")])
    assert code == 2 and stdout == "" and err.startswith("error: ") and "holds no samples" in err
    code, _, err = run(["transcribe", str(out), str(tmp_path / "q.wav")])
    assert code == 2 and "holds a 'commands' run: expected a 'speech' run." in err


@needs_espeak
def test_resuming_adds_epochs_and_sums_training_time(tmp_path):
    from rnnkit.tasks import runs
    from rnnkit.tasks.commands.config import CommandsConfig
    from rnnkit.tasks.commands.train import train

    cfg = {"units": 8, "num_layers": 1, "conv_channels": 8, "max_samples": 32, "batch_size": 32}
    first = train(CommandsConfig(epochs=1, **cfg), runs.TrainOptions(out=tmp_path, quiet=True))
    second = train(CommandsConfig(epochs=2, **cfg), runs.TrainOptions(out=tmp_path, quiet=True))
    assert first["resumed_from_epoch"] == 0 and second["resumed_from_epoch"] == 1
    assert second["train_seconds_total"] == pytest.approx(
        first["train_seconds_total"] + second["train_seconds_this_session"], abs=0.11
    )
    assert len((tmp_path / "history.csv").read_text().splitlines()) == 3  # header + 2 epochs
