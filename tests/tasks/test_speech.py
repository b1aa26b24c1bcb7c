"""Speech-to-text: CTC decoders against brute force, the alphabet and LM, the CTC model's
lengths, loss and training step, save/load, and WER/CER."""

import itertools
import math
import shutil

import numpy as np
import pytest
import torch

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.tasks.audio.encoder import subsampled_lengths
from rnnkit.tasks.audio.frontend import FeatureBatches, FrontEnd
from rnnkit.tasks.speech.decoding import (
    Alphabet,
    WordLM,
    collapse,
    greedy_decode,
    prefix_beam_search,
)
from rnnkit.tasks.speech.evaluate import Decoder, error_rates
from rnnkit.tasks.speech.model import SpeechRecognizer

AB = Alphabet(("<blank>", "a", "b"))


def log_softmax(x: np.ndarray) -> np.ndarray:
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def brute_force(lp: np.ndarray) -> dict[tuple[int, ...], float]:
    """log P(l | x) of every label sequence, summing every alignment explicitly."""
    out: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(lp.shape[1]), repeat=lp.shape[0]):
        l = tuple(collapse(path))  # noqa: E741
        out[l] = np.logaddexp(out.get(l, -np.inf), sum(lp[t, k] for t, k in enumerate(path)))
    return out


def test_collapse_merges_repeats_then_drops_blanks():
    assert collapse([1, 1, 0, 1, 2, 2, 0, 0, 2]) == [1, 1, 2, 2]
    assert collapse([0, 0]) == [] and greedy_decode(np.log([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1]])) == [1]


@pytest.mark.parametrize("seed", range(6))
def test_unbounded_prefix_beam_search_is_exact(seed):
    lp = log_softmax(np.random.default_rng(seed).standard_normal((5, 3)) * 2)
    truth = brute_force(lp)
    hyps = prefix_beam_search(lp, AB, beam=10_000, prune=None, n_best=10_000)
    assert {h.ids for h in hyps} == set(truth)  # every reachable sequence, no impossible one
    for h in hyps:
        assert h.acoustic == pytest.approx(truth[h.ids], abs=1e-9)
    best = max(truth, key=truth.get)
    assert hyps[0].ids == best


def test_beam_finds_the_sequence_greedy_misses():
    # Two frames: the best path is "_ _" (0.36) but "a" gathers 0.4*0.6+0.6*0.4+0.4*0.4 = 0.64.
    lp = np.log([[0.6, 0.4, 1e-9], [0.6, 0.4, 1e-9]])
    assert greedy_decode(lp) == []
    hyp = prefix_beam_search(lp, AB, beam=4, prune=None)[0]
    assert hyp.ids == (1,) and math.exp(hyp.acoustic) == pytest.approx(0.64, abs=1e-6)


@pytest.mark.parametrize("seed", range(40))
def test_beam_width_one_equals_greedy_when_frames_are_confident(seed):
    # Beam 1 keeps the most probable *prefix* (all its alignments), greedy the best *path*;
    # they agree when each frame's best label holds >= 0.7 (a trained CTC model's peaky
    # output), and can differ below ~0.6 (the test above).
    rng = np.random.default_rng(seed)
    alphabet = Alphabet(("<blank>", "a", "b", "c"))
    best = rng.integers(0, 4, 20)
    p = rng.dirichlet(np.ones(4), size=20) * 0.3
    p[np.arange(20), best] += 0.7
    lp = np.log(p)
    assert list(prefix_beam_search(lp, alphabet, beam=1, prune=None)[0].ids) == greedy_decode(lp)
    assert Decoder(alphabet, beam=1)(lp) == Decoder(alphabet)(lp)


def test_vocabulary_constraint_and_lm_pick_real_words():
    alphabet = Alphabet(("<blank>", " ", "a", "n", "o", "t"), "char")
    ids = {c: i for i, c in enumerate(alphabet.labels)}

    def frames(text, p=0.55):
        rows = []
        for c in text:
            row = np.full(6, (1 - p) / 5)
            row[ids[c]] = p
            rows += [row, np.eye(6)[0] * 0.9 + 0.02]
        return np.log(np.array(rows))

    lp = frames("to ton")
    assert alphabet.decode(greedy_decode(lp)) == "to ton"
    hyp = prefix_beam_search(lp, alphabet, beam=16, vocabulary={"to", "tot", "at", "no"}, prune=None)[0]
    assert set(hyp.text.split()) <= {"to", "tot", "at", "no"}
    lm = WordLM.fit(["to no", "to no", "at to"])
    assert lm.log_prob("to", "no") > lm.log_prob("to", "at") > lm.log_prob("to", "zebra")
    assert lm.log_prob("to", "zebra") == -math.inf
    assert WordLM.from_dict(lm.to_dict()) == lm
    # the LM breaks an acoustic tie in favour of the bigram it saw
    tie = np.log(np.array([[0.02, 0.02, 0.02, 0.02, 0.46, 0.46]]))  # "o" or "t"?
    a = Alphabet(("<blank>", " ", "a", "n", "o", "t"))
    assert (
        prefix_beam_search(tie, a, beam=4, lm=WordLM.fit(["t t", "t"]), alpha=1.0, prune=None)[0].text == "t"
    )
    assert prefix_beam_search(tie, a, beam=4, lm=WordLM.fit(["o"]), alpha=1.0, prune=None)[0].text == "o"


def test_alphabet_encodes_and_refuses_unknown_units():
    a = Alphabet.from_texts(["two nine", "Zero  two"], "char")
    assert a.labels == ("<blank>", " ", "e", "i", "n", "o", "r", "t", "w", "z")
    assert a.decode(a.encode("two  nine")) == "two nine" and a.space == 1
    w = Alphabet.from_texts(["two nine", "zero two"], "word")
    assert w.labels == ("<blank>", "nine", "two", "zero") and w.decode(w.encode("zero nine")) == "zero nine"
    with pytest.raises(ConfigError, match="transcript='five' is not valid"):
        w.encode("five")
    with pytest.raises(ShapeError):
        prefix_beam_search(np.zeros((3, 2)), w)


def test_error_rates_are_corpus_level():
    r = error_rates(["one two three", "four"], ["one two", "Four"])
    assert r["wer"] == pytest.approx(1 / 4) and r["cer"] == pytest.approx(
        6 / 17
    )  # " three" of 13 + 4 characters


def test_subsampled_lengths_match_the_conv():
    model = SpeechRecognizer(8, 5, units=4, num_layers=1, conv_channels=6, stride=3)
    lengths = torch.tensor([1, 2, 3, 4, 29, 30, 31])
    for n, m in zip(lengths.tolist(), subsampled_lengths(lengths, 3).tolist(), strict=True):
        assert model.encoder.conv(torch.zeros(1, 8, n)).shape[-1] == m


def toy_batches(n=12, seed=0):
    """Frames whose mel band k lights up while label k is 'spoken': learnable in a few steps."""
    g = torch.Generator().manual_seed(seed)
    frames, targets = [], []
    for _ in range(n):
        labels = torch.randint(1, 4, (3,), generator=g).tolist()
        f = torch.randn(36, 6, generator=g) * 0.1
        for j, k in enumerate(labels):
            f[4 + 10 * j : 10 + 10 * j, k] += 3.0
        frames.append(f)
        targets.append(labels)
    return frames, targets


def test_ctc_model_trains_saves_and_reloads(tmp_path):
    torch.manual_seed(0)
    frames, targets = toy_batches()
    model = SpeechRecognizer(
        6, 4, cell="lstm", units=16, num_layers=1, conv_channels=8, stride=2, dropout=0.0
    )
    from rnnkit import optimizers

    model.compile(optimizer=optimizers.Adam(learning_rate=0.03), device="cpu")
    batches = FeatureBatches(frames, targets, 4, shuffle=True, seed=1)
    first = model.evaluate(FeatureBatches(frames, targets, 4), verbose=0)
    model.fit(batches, epochs=25, verbose=0)
    last = model.evaluate(FeatureBatches(frames, targets, 4), verbose=0)
    loss = lambda r: r if isinstance(r, float) else r[0]  # noqa: E731
    assert loss(last) < 0.5 * loss(first)
    x = torch.nn.utils.rnn.pad_sequence(frames[:3], batch_first=True), torch.tensor([36, 36, 36])
    model.eval()
    lp, lens = model(*x)
    assert lp.shape == (3, 18, 4) and lens.tolist() == [18, 18, 18]
    torch.testing.assert_close(lp.exp().sum(-1), torch.ones(3, 18))
    model.save(tmp_path / "m.keras")
    from rnnkit import load_model

    again = load_model(tmp_path / "m.keras")
    again.eval()
    torch.testing.assert_close(again(*x)[0], lp, rtol=0, atol=0)


def test_feature_batches_pad_and_reshuffle_deterministically():
    frames = [torch.randn(n, 3) for n in (5, 9, 7, 2, 4)]
    b = FeatureBatches(frames, [[1], [1, 2], [2], [1], [2, 2]], 2, shuffle=True, seed=3)
    one = list(b)
    orders = {tuple(tuple(y[0].flatten().tolist()) for _, y in b) for _ in range(6)}
    assert len(orders) > 1  # each pass draws a new order
    b.set_epoch(0)
    assert [y[0].tolist() for _, y in list(b)] == [y[0].tolist() for _, y in one]
    assert len(one) == len(b) == 3
    (x, lengths), (ids, tlens) = one[0]
    assert x.shape == (len(lengths), int(lengths.max()), 3) and ids.shape[0] == tlens.shape[0]
    assert sorted(int(n) for (_, ls), _ in one for n in ls) == [2, 4, 5, 7, 9]


def test_front_end_features_are_normalised_and_short_clips_padded():
    fe = FrontEnd(n_mels=20)
    f = fe.features(np.random.default_rng(0).standard_normal(16_000).astype(np.float32) * 0.1)
    assert f.shape == (101, 20) and abs(float(f.mean())) < 1e-4
    assert fe.features(np.zeros(100, np.float32)).shape == (3, 20)  # padded to 401 samples
    assert FrontEnd.from_dict(fe.to_dict()) == fe


HAVE_ESPEAK = shutil.which("espeak-ng") is not None and shutil.which("sox") is not None
needs_espeak = pytest.mark.skipif(not HAVE_ESPEAK, reason="needs Debian espeak-ng and sox")
SMALL = {
    "data": "spoken_digit_strings:tiny",  # 96 clips, synthesised in a few seconds, then cached
    "units": 16,
    "num_layers": 1,
    "conv_channels": 16,
    "stride": 3,
    "epochs": 1,
    "batch_size": 16,
    "beam": 2,
}


@pytest.fixture(scope="module")
def speech_run(tmp_path_factory):
    from rnnkit.tasks import runs
    from rnnkit.tasks.speech.config import SpeechConfig
    from rnnkit.tasks.speech.train import train

    out = tmp_path_factory.mktemp("asr")
    metrics = train(SpeechConfig(**SMALL), runs.TrainOptions(out=out, quiet=True))
    return out, metrics


@needs_espeak
def test_train_writes_a_run_that_transcribes_any_wav(speech_run, tmp_path):
    from rnnkit.data.audio import write_wav
    from rnnkit.datasets.digit_strings import plan
    from rnnkit.tasks.speech.predictor import Transcriber

    out, metrics = speech_run
    assert metrics["samples"] == {"train": 64, "validation": 16, "test": 16}
    for dec in ("greedy", "beam", "beam+lm"):
        assert metrics[f"test_{dec}_wer"] >= 0 and 0 <= metrics[f"test_{dec}_cer"] <= 1.5
    for name in ("run.json", "model.safetensors", "checkpoint.safetensors", "speech.json", "metrics.json"):
        assert (out / name).is_file()
    model = Transcriber.load(out)
    assert len(plan("tiny")) == 96
    # the same clip as 16 kHz mono 16-bit and as 48 kHz stereo 8-bit: both are read
    from rnnkit import datasets

    clip = datasets.load("spoken_digit_strings:tiny").test.waves[0]
    write_wav(tmp_path / "a.wav", clip, 16_000)
    t = model.transcribe(tmp_path / "a.wav", beam=0)
    assert t.decoder == "greedy" and t.audio_seconds == pytest.approx(len(clip) / 16_000)
    assert set(t.text) <= set("".join(model.alphabet.labels[1:]))
    from rnnkit.data.audio import resample

    up = resample(clip, 16_000, 48_000)
    write_wav(tmp_path / "b.wav", np.stack([up, up], axis=1), 48_000, bits=8)
    assert model.transcribe((tmp_path / "b.wav").read_bytes(), beam=2).audio_seconds == pytest.approx(
        t.audio_seconds, abs=1e-3
    )
    # reloading gives the same log-probabilities as the trained model (weights round-trip)
    again = Transcriber.load(out)
    f = model.frontend.features(clip)[None]
    n = torch.tensor([f.shape[1]])
    torch.testing.assert_close(again.model(f, n)[0], model.model(f, n)[0], rtol=0, atol=0)


@needs_espeak
def test_bad_inputs_give_one_clear_error(speech_run, tmp_path):
    from rnnkit.data.audio import write_wav
    from rnnkit.errors import DataError
    from rnnkit.tasks.speech.predictor import Transcriber

    out, _ = speech_run
    model = Transcriber.load(out)
    (tmp_path / "x.wav").write_text("not audio")
    with pytest.raises(DataError, match="is not a WAV file"):
        model.transcribe(tmp_path / "x.wav")
    (tmp_path / "e.wav").write_bytes(b"")
    with pytest.raises(DataError, match="is an empty file"):
        model.transcribe(tmp_path / "e.wav")
    write_wav(tmp_path / "long.wav", np.zeros(16_000 * 11), 16_000)
    with pytest.raises(DataError, match="at most 10 s is accepted"):
        model.transcribe(tmp_path / "long.wav")
    with pytest.raises(DataError, match="does not exist"):
        Transcriber.load(tmp_path / "nothing")


@pytest.mark.parametrize(("cell", "bidirectional"), [("gru", True), ("lstm", False)])
def test_a_clip_decodes_the_same_alone_or_padded_in_a_batch(cell, bidirectional):
    model = SpeechRecognizer(8, 5, cell=cell, units=6, num_layers=2, bidirectional=bidirectional, stride=2)
    model.eval()
    x = torch.randn(1, 21, 8)
    alone, n = model(x, torch.tensor([21]))
    batch = torch.cat([torch.cat([x, torch.randn(1, 9, 8) * 5], dim=1), torch.randn(1, 30, 8)])
    both, lens = model(batch, torch.tensor([21, 30]))
    assert lens.tolist() == [11, 15] and n.tolist() == [11]
    torch.testing.assert_close(both[:1, :11], alone, atol=1e-5, rtol=1e-5)


def run_main(capsys, argv):
    from rnnkit.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


@needs_espeak
def test_transcribe_command_and_its_errors(speech_run, tmp_path, capsys):
    import json

    from rnnkit import datasets
    from rnnkit.data.audio import write_wav

    out, _ = speech_run
    write_wav(tmp_path / "a.wav", datasets.load("spoken_digit_strings:tiny").test.waves[1], 16_000, bits=32)
    code, stdout, err = run_main(
        capsys, ["transcribe", str(out), str(tmp_path / "a.wav"), "--beam", "0", "--json"]
    )
    assert code == 0 and err == ""
    (row,) = json.loads(stdout)
    assert (
        row["decoder"] == "greedy" and row["file"] == str(tmp_path / "a.wav") and row["real_time_factor"] > 0
    )
    (tmp_path / "x.wav").write_bytes(b"ID3 an mp3 file")
    sentiment = tmp_path / "sent"
    sentiment.mkdir()
    (sentiment / "run.json").write_text('{"format": "rnnkit.run/1", "task": "sentiment", "config": {}}')
    for argv, message in [
        ([str(out), str(tmp_path / "x.wav")], f"error: {str(tmp_path / 'x.wav')!r} is not a WAV file"),
        ([str(out), str(tmp_path / "none.wav")], "error: cannot read"),
        ([str(sentiment), str(tmp_path / "a.wav")], "holds a 'sentiment' run: expected a 'speech' run."),
        ([str(out), str(tmp_path / "a.wav"), "--beam", "-1"], "error: beam=-1 is not valid"),
    ]:
        code, stdout, err = run_main(capsys, ["transcribe", *argv])
        assert code == 2 and stdout == "" and message in err and err.count("\n") == 1, (argv, err)
    code, _, err = run_main(capsys, ["predict", str(out), "two"])  # a speech run given to `predict`
    assert code == 2 and "holds a 'speech' run: expected a 'sentiment' run." in err


def test_pad_with_silence_adds_the_clips_own_noise_floor():
    from rnnkit.tasks.audio.frontend import pad_with_silence

    rng = np.random.default_rng(0)
    clip = np.concatenate([np.sin(np.arange(8000) / 5.0), rng.standard_normal(1600) * 0.01]).astype(
        np.float32
    )
    (a,), (b,) = pad_with_silence([clip], 0.5, 16_000, seed=1), pad_with_silence([clip], 0.5, 16_000, seed=1)
    assert np.array_equal(a, b) and a.dtype == np.float32
    extra = len(a) - len(clip)
    assert 0 < extra <= 0.75 * 16_000
    start = int(np.argmax(np.abs(a - 0) > 0.5))  # the sine's first loud sample: after the lead
    lead = a[: start - 5]
    assert 0.005 < lead.std() < 0.02  # the clip's own noise floor (0.01), not silence or speech
    np.testing.assert_array_equal(a[start - int(np.argmax(np.abs(clip) > 0.5)) :][: len(clip)], clip)


def test_decoded_text_has_single_spaces():
    a = Alphabet(("<blank>", " ", "o"), "char")
    assert a.decode([1, 2, 1, 1, 2, 1]) == "o o"


def test_front_end_floors_digital_silence_80_db_below_the_peak(monkeypatch):
    from rnnkit.tasks.audio import frontend

    monkeypatch.setattr(frontend, "normalize_features", lambda f: f)  # look at the log-mel values
    rng = np.random.default_rng(0)
    clip = np.concatenate(
        [np.zeros(8000), np.sin(np.arange(8000) / 3.0) * 0.5 + rng.standard_normal(8000) * 1e-3]
    )
    f = frontend.FrontEnd(dither=0.0).features(clip.astype(np.float32))
    floor = float(f.max()) - 80 * math.log(10) / 10
    assert float(f.min()) == pytest.approx(floor, abs=1e-4)  # the zeros sit at the floor, not at log(1e-10)
    assert float(f[60:].min()) > floor  # the noisy tone is above it: untouched


def test_dither_is_seeded_and_lifts_digital_silence():
    fe = FrontEnd()
    clip = np.concatenate([np.zeros(4000), np.sin(np.arange(8000) / 3.0) * 0.5]).astype(np.float32)
    torch.testing.assert_close(fe.features(clip), fe.features(clip), rtol=0, atol=0)
    from rnnkit.tasks.audio import frontend

    raw = frontend.log_mel_spectrogram  # the zeros' frames: at the dither's level, not at the floor
    mel = raw(
        torch.as_tensor(clip + np.random.default_rng(0).standard_normal(clip.size).astype(np.float32) * 1e-3)
    )
    assert float(mel[:20].mean()) > float(mel.max()) - 80 * math.log(10) / 10 + 1.0
    assert FrontEnd.from_dict({"sample_rate": 16_000, "n_mels": 40, "max_seconds": 10.0}).dither == 1e-3
