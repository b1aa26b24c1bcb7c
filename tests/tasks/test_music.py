"""The music task: theory and checks on hand-made pieces, encodings with hand-computed arrays,
the models' one-step path against their whole-sequence forward, sampling constraints,
n-gram golden values, MIDI/WAV/PNG files, and the CLI end to end on a tiny run."""

from __future__ import annotations

import io
import json
import math
import wave

import numpy as np
import pytest
import torch

from rnnkit.errors import ConfigError, DataError, MissingDependencyError
from rnnkit.tasks.music import baselines, data, midi, sampling
from rnnkit.tasks.music.model import ChoraleLM, MelodyLM
from rnnkit.tasks.music.sampling import Sampling, compose_chorales, compose_melodies
from rnnkit.tasks.music.theory import REST, VOICE_RANGES, Key, Piece, bar_length, estimate_key, musical_checks

# A four-bar chorale fragment in G major, 3/4 with a one-beat pickup (bar_offset 2).
SOPRANO = [(67, 1.0), (67, 1.0), (74, 1.0), (71, 1.0), (69, 2.0), (67, 1.0), (71, 1.0), (72, 1.0), (74, 3.0)]
ALTO = [(62, 1.0), (62, 1.0), (62, 1.0), (62, 1.0), (62, 2.0), (62, 1.0), (67, 1.0), (66, 1.0), (67, 3.0)]
TENOR = [(59, 1.0), (59, 1.0), (57, 1.0), (55, 1.0), (54, 2.0), (59, 1.0), (64, 1.0), (57, 1.0), (59, 3.0)]
BASS = [(43, 1.0), (55, 1.0), (54, 1.0), (55, 1.0), (50, 2.0), (52, 1.0), (55, 1.0), (50, 1.0), (43, 3.0)]


def chorale(**kw):
    return Piece([list(SOPRANO), list(ALTO), list(TENOR), list(BASS)], "3/4", 2.0, Key(7, "major"), **kw)


# ------------------------------------------------------------------------------------ theory
def test_keys_meters_and_key_estimation():
    assert Key.parse("G major") == Key(7, "major") and Key.parse("f# minor") == Key(6, "minor")
    assert Key.parse("Bb") == Key(10, "major") and Key.parse("e") == Key(4, "minor")
    assert Key.parse("E- major").index == 3 and Key(9, "minor").index == 21
    assert str(Key(3, "major").transpose(-5)) == "Bb major"
    assert Key(9, "minor").contains(68) and not Key(9, "major").contains(72)  # G# in A minor, C not in A
    with pytest.raises(ConfigError, match=r"^key='H dur' is not valid: expected a tonic and a mode"):
        Key.parse("H dur")
    assert (bar_length("3/4"), bar_length("6/8"), bar_length("3/2")) == (3.0, 3.0, 6.0)
    with pytest.raises(ConfigError, match=r"^meter='3/5' is not valid"):
        bar_length("3/5")
    ends_on_e = [[(64, 1.0)], [], [], [(52, 1.0)]]  # G major's signature, last bass E: E minor
    assert estimate_key("G major", ends_on_e) == Key(4, "minor")
    assert estimate_key("G major", [[(67, 1.0)], [], [], [(43, 1.0)]]) == Key(7, "major")
    assert estimate_key("G major", [[(71, 1.0)], [], [], [(47, 1.0)]]) == Key(4, "minor")  # Phrygian: on B


def test_musical_checks_count_what_they_say():
    real = musical_checks([chorale()])
    assert real["range"]["bass"] == {
        "lowest": 43,
        "highest": 55,
        "mean": round(sum(p for p, _ in BASS) / 9, 2),
    }
    assert real["in_key"] == 1.0 and real["crossing"] == 0.0 and real["repeated_bars"] == 0.0
    # 8 chord changes, none a parallel fifth or octave; with the tenor on D4 at the seventh note,
    # tenor and bass move in parallel fifths into it and out of it: 2 of 8 changes.
    assert real["parallels_per_100_changes"] == 0.0
    fifths = chorale()
    fifths.voices[2][6] = (62, 1.0)
    assert musical_checks([fifths])["parallels_per_100_changes"] == 25.0
    # Soprano and bass moving up a step together a fifth apart, twice: two parallel fifths in 2 changes.
    fifths = Piece(
        [[(72, 1.0), (74, 1.0), (76, 1.0)], [(65, 3.0)], [(60, 3.0)], [(53, 1.0), (55, 1.0), (57, 1.0)]]
    )
    out = musical_checks([fifths])
    assert out["parallels_per_100_changes"] == 100.0 and out["crossing"] == 0.0
    crossing = Piece([[(60, 2.0)], [(64, 1.0), (59, 1.0)], [(55, 2.0)], [(48, 2.0)]])
    assert musical_checks([crossing])["crossing"] == 0.5  # alto above soprano for 4 of 8 steps
    # Bars of 2/4 from the downbeat: bar 2 repeats bar 1, bar 3 differs: 1 of 2 repeats.
    loop = Piece([[(60, 1.0), (62, 1.0), (60, 1.0), (62, 1.0), (64, 2.0)]], "2/4")
    assert musical_checks([loop])["repeated_bars"] == 0.5
    assert musical_checks([Piece([[(61, 1.0), (60, 1.0)]])])["in_key"] == 0.5  # C# not in C major


# ----------------------------------------------------------------------------------- encoding
def test_melody_encoding_by_hand():
    a = data.encode_melody(chorale())
    assert a.pitch.tolist() == [p for p, _ in SOPRANO]
    assert a.pitch_in.tolist() == [data.BOS_PITCH] + [p for p, _ in SOPRANO[:-1]]
    assert a.dur.tolist() == [data.DURATIONS.index(d) for _, d in SOPRANO]
    # Onsets 0, 1, 2, 3, 4, 6, 7, 8, 9 quarter notes; the pickup puts onset 0 at beat 3 (sixteenth 8).
    assert a.pos.tolist() == [8, 0, 4, 8, 0, 8, 0, 4, 8]
    assert a.left.tolist() == [12, 11, 10, 9, 8, 6, 5, 4, 3]
    assert a.degree_in.tolist() == [12, 0, 0, 7, 4, 2, 0, 4, 5]  # G major: G=0, D=7, B=4 ...
    assert (a.key, a.meter) == (7, 1)


def test_grid_tokens_onsets_holds_rests_and_round_trip():
    p = Piece([[(72, 0.5), (REST, 0.25), (72, 0.25)], [(60, 1.0)]], "4/4")
    tok, sound = data.grid_tokens(p)
    H, R = data.HOLD_ID, data.REST_ID
    assert tok.tolist() == [[72, 60], [H, H], [R, H], [72, H]]
    assert sound.tolist() == [[72, 60], [72, 60], [R, 60], [72, 60]]
    assert data.decode_grid(tok) == [[(72, 0.5), (REST, 0.25), (72, 0.25)], [(60, 1.0)]]
    g = data.encode_grid(chorale())
    assert g.tok_in[0].tolist() == [data.BOS_TOKEN] * 4 and (g.tok_in[1:] == g.tok[:-1]).all()
    assert g.tok.shape == (48, 4) and g.pos[:5].tolist() == [8, 9, 10, 11, 0]


def test_transposition_stays_in_range():
    ks = data.shifts(chorale())
    assert ks == list(range(-6, 6))  # up to +5: the tenor's E4 would pass A4, its top, at +6
    high = Piece([[(81, 1.0)], [(74, 1.0)], [(60, 1.0)], [(48, 1.0)]])
    assert max(data.shifts(high)) == 0 and min(data.shifts(high)) == -6
    t = data.transpose(chorale(), -2)
    assert t.voices[3][0] == (41, 1.0) and t.key == Key(5, "major")


# ------------------------------------------------------------------------------------ models
def _tiny(cls):
    torch.manual_seed(0)
    return cls(units=12, embed=8, dropout=0.0).eval()


@torch.no_grad()
def test_melody_model_one_step_path_equals_forward_and_loss_is_nll():
    model = _tiny(MelodyLM)
    x, y = data.melody_batch([data.encode_melody(chorale())])
    lp, ld = model(*x)  # (1, 9, 129), (1, 9, 15): the layers' whole-sequence kernels
    states = model.initial_states(1)
    pitch_in, dur_in, degree_in, pos, left, key, meter, pitch = x
    for t in range(9):  # the generation path: cell_step one note at a time
        e = model.embed(pitch_in[:, t], dur_in[:, t], degree_in[:, t], pos[:, t], left[:, t], key, meter)
        h, states = model.step(e, states)
        torch.testing.assert_close(model.pitch_head(h), lp[:, t], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.dur_logits(h, pitch[:, t]), ld[:, t], atol=1e-5, rtol=1e-5)
    nll = (
        -(lp.log_softmax(-1)[0, range(9), y[0][0]].sum() + ld.log_softmax(-1)[0, range(9), y[1][0]].sum()) / 9
    )
    torch.testing.assert_close(model.compute_loss(x, y, (lp, ld)), nll)
    scored = baselines.model_nll(model, [chorale()], 1)
    assert math.isclose(scored["nll_per_note"], float(nll), rel_tol=1e-5)


@torch.no_grad()
def test_chorale_model_one_step_path_equals_forward():
    model = _tiny(ChoraleLM)
    x, y = data.grid_batch([data.encode_grid(chorale())])
    logits = model(*x)  # (1, 48, 4, 130)
    tok_in, sound_in, degree_in, pos, left, key, meter, tok, sound = x
    states = model.initial_states(1)
    for t in range(6):
        e = model.embed(tok_in[:, t], sound_in[:, t], degree_in[:, t], pos[:, t], left[:, t], key, meter)
        h, states = model.step(e, states)
        for v in range(4):
            got = model.voice_logits(v, h, tok[:, t], sound[:, t])
            torch.testing.assert_close(got, logits[:, t, v], atol=1e-5, rtol=1e-5)
    scored = baselines.model_nll(model, [chorale()], 4)
    assert math.isclose(sum(scored["per_voice"].values()), scored["nll_per_step"], rel_tol=1e-9)
    assert math.isclose(scored["nll_per_step"], float(model.compute_loss(x, y, logits)), rel_tol=1e-5)


# ---------------------------------------------------------------------------------- sampling
def test_compose_melodies_fill_the_bars_in_range_and_repeat_with_the_seed():
    model = _tiny(MelodyLM)
    kw = {"n": 3, "bars": 4, "key": Key(2, "minor"), "meter": "3/4"}
    pieces = compose_melodies(model, sampling=Sampling(1.2, top_p=0.95, seed=5), **kw)
    lo, hi = VOICE_RANGES["soprano"]
    for p in pieces:
        assert math.isclose(sum(d for _, d in p.voices[0]), 12.0)
        assert all(lo <= q <= hi for q, _ in p.voices[0] if q != REST)
    again = compose_melodies(model, sampling=Sampling(1.2, top_p=0.95, seed=5), **kw)
    assert [p.voices for p in again] == [p.voices for p in pieces]
    greedy = compose_melodies(model, sampling=Sampling(0.0), **kw)
    assert greedy[0].voices == greedy[1].voices  # temperature 0: argmax, no randomness


def test_compose_and_harmonize_four_voices():
    model = _tiny(ChoraleLM)
    pieces = compose_chorales(
        model, n=2, bars=2, key=Key(0, "major"), meter="4/4", sampling=Sampling(1.0, seed=1)
    )
    for p in pieces:
        assert [math.isclose(sum(d for _, d in v), 8.0) for v in p.voices] == [True] * 4
        for name, events in zip(("soprano", "alto", "tenor", "bass"), p.voices, strict=True):
            lo, hi = VOICE_RANGES[name]
            assert all(lo <= q <= hi for q, _ in events if q != REST)
    melody = Piece([list(SOPRANO)], "3/4", 2.0, Key(7, "major"))
    out = compose_chorales(model, n=1, bars=1, key=None, meter=None, sampling=Sampling(0.5), soprano=melody)[
        0
    ]
    assert out.voices[0] == SOPRANO and (out.meter, out.bar_offset, out.key) == ("3/4", 2.0, Key(7, "major"))
    assert all(math.isclose(sum(d for _, d in v), 12.0) for v in out.voices)


def test_parallel_mask_forbids_exactly_what_the_checks_count():
    # Brute force over random previous/current chords: a pitch is masked iff the report's rule
    # (both voices move the same way, from a fifth or octave into the same interval) fires for
    # one of the voices already chosen at this step.
    rng = np.random.default_rng(0)
    for _ in range(40):
        prev = torch.from_numpy(rng.integers(40, 80, size=(3, 4)))
        now = torch.from_numpy(rng.integers(40, 80, size=(3, 4)))
        prev[0, 1] = data.REST_ID  # a voice that rested: nothing to forbid against it
        for v in range(1, 4):
            bad = sampling.parallel_mask(v, now, prev)
            for b in range(3):
                for q in range(40, 80):
                    expect = False
                    for u in range(v):
                        if data.REST_ID in (int(prev[b, u]), int(prev[b, v])):
                            continue
                        du, dv = int(now[b, u] - prev[b, u]), q - int(prev[b, v])
                        ia, ib = int(prev[b, u] - prev[b, v]) % 12, (int(now[b, u]) - q) % 12
                        expect |= du * dv > 0 and ia == ib and ia in (0, 7)
                    assert bool(bad[b, q]) == expect, (b, v, q)
            assert not bad[:, data.HOLD_ID].any() and not bad[:, data.REST_ID].any()


def test_composed_chorales_have_no_parallels_unless_allowed():
    model = _tiny(ChoraleLM)
    kw = {"n": 6, "bars": 4, "key": Key(0, "major"), "meter": "4/4"}
    guarded = compose_chorales(model, sampling=Sampling(1.5, seed=3), **kw)
    assert musical_checks(guarded)["parallels_per_100_changes"] == 0
    free = compose_chorales(model, sampling=Sampling(1.5, seed=3, avoid_parallels=False), **kw)
    assert musical_checks(free)["parallels_per_100_changes"] > 0  # an untrained model makes them


def test_sampling_arguments_are_checked():
    with pytest.raises(
        ConfigError, match=r"^temperature=-0.5 is not valid: expected a number >= 0 \(0 = greedy"
    ):
        Sampling(-0.5)
    with pytest.raises(ConfigError, match=r"^top_p=1.5 is not valid"):
        Sampling(1.0, top_p=1.5)
    with pytest.raises(ConfigError, match=r"^bars=0 is not valid: expected an integer from 1 to 256\.$"):
        sampling.check_bars(0)


# --------------------------------------------------------------------------------- baselines
def test_ngram_golden_values():
    train, val, test = [["a", "b", "a", "b"]], [["a", "b"]], [["b", "a", "c"]]
    got = baselines.ngram_nll(train, val, test, 1)
    # V = 3 (a, b, c); counts a=2, b=2 of 4; the k chosen on validation is the smallest (1e-3).
    k = 0.001
    expected = -(math.log((2 + k) / (4 + 3 * k)) * 2 + math.log(k / (4 + 3 * k))) / 3
    assert got["k"] == k and math.isclose(got["nll"], expected)
    bi = baselines.ngram_nll(train, val, test, 2)  # contexts <s>:a, a:b x2, b:a
    assert bi["tokens"] == 3 and bi["vocabulary"] == 3
    interp = baselines.interpolated_nll(train, val, test, 2)
    assert math.isclose(sum(interp["weights"]), 1.0) and interp["weights"][0] > 0
    assert len(baselines._simplex(3, 20)) == 231


# ------------------------------------------------------------------------------------- files
def test_midi_round_trip_tracks_and_bad_files(tmp_path):
    mido = pytest.importorskip("mido")
    piece = chorale(title="test", tempo=96)
    path = midi.write_midi(piece, tmp_path / "c.mid")
    mid = mido.MidiFile(path)
    assert [t.name for t in mid.tracks] == ["test", "soprano", "alto", "tenor", "bass"]
    metas = {m.type: m for m in mid.tracks[0]}
    assert mido.tempo2bpm(metas["set_tempo"].tempo) == 96 and metas["key_signature"].key == "G"
    assert (metas["time_signature"].numerator, metas["time_signature"].denominator) == (3, 4)
    melody = midi.read_melody(path)  # the track named soprano
    assert melody.voices[0] == SOPRANO and melody.meter == "3/4" and melody.key == Key(7, "major")
    assert melody.bar_offset == 2.0  # the pickup: the file starts with two beats of silence
    (tmp_path / "x.mid").write_bytes(b"not a midi file at all")
    with pytest.raises(DataError, match=r"^'.*x\.mid' is not a readable MIDI file"):
        midi.read_melody(tmp_path / "x.mid")
    low = midi.write_midi(Piece([[(50, 1.0), (52, 1.0)]]), tmp_path / "low.mid")
    with pytest.raises(ConfigError, match=r"^soprano pitch='D3 \(MIDI 50\)' is not valid: expected A3-A5"):
        midi.read_melody(low)
    assert midi.guess_key([62, 64, 65, 67, 69, 70, 72, 74, 62]) == Key(2, "minor")


def test_wav_png_and_missing_fluidsynth(tmp_path, monkeypatch):
    piece = chorale()
    png = midi.plot_piano_roll(piece, tmp_path / "roll.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    mid = midi.write_midi(piece, tmp_path / "c.mid")
    if midi.shutil.which("fluidsynth") and midi.os.path.isfile(midi.SOUNDFONT):
        wav = midi.render_wav(mid, tmp_path / "c.wav")
        with wave.open(str(wav)) as w:  # 12 quarter notes at 80 bpm = 9 s, plus the release tail
            assert w.getframerate() == 44100 and w.getnframes() / 44100 > 8.5
            frames = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
            assert np.abs(frames).max() > 1000  # sound, not silence
    monkeypatch.setattr(midi.shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError, match=r"^WAV needs the fluidsynth program: apt-get install"):
        midi.render_wav(mid, tmp_path / "d.wav")


# --------------------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def melody_run(tmp_path_factory):
    pytest.importorskip("music21", reason="needs the music extra: pip install 'rnnkit[music]'")
    from rnnkit.cli.main import main

    out = tmp_path_factory.mktemp("music") / "run"
    before = torch.get_num_threads()
    args = ["train", "music", "--data", "chorales", "--out", str(out), "--epochs", "1", "--quiet"]
    args += ["--max-samples", "8", "--set", "units=16", "--set", "embed_dim=8", "--threads", "1"]
    with pytest.raises(SystemExit) as exc:
        main(args)
    torch.set_num_threads(before)
    assert exc.value.code == 0
    return out


def _cli(capsys, *args):
    from rnnkit.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(list(args))
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def test_cli_train_compose_and_bad_input(melody_run, tmp_path, capsys):
    metrics = json.loads((melody_run / "metrics.json").read_text())
    assert metrics["test_tunes_seen_in_train"] == 0 and metrics["pieces"]["test"] == 37
    assert set(metrics["baselines_test"]) >= {"unigram", "bigram", "trigram", "interpolated trigram"}
    assert metrics["test"]["notes"] > 1000 and metrics["test"]["nll_per_note"] > 0
    out = tmp_path / "p.mid"
    code, stdout, _ = _cli(
        capsys,
        "compose",
        str(melody_run),
        "--bars",
        "4",
        "--meter",
        "3/4",
        "--key",
        "D major",
        "--out",
        str(out),
        "--plot",
        str(tmp_path / "r.png"),
        "--json",
    )
    assert code == 0, stdout
    summary = json.loads(stdout)
    assert summary["bars"] == 4.0 and summary["key"] == "D major" and (tmp_path / "r.png").is_file()
    first = out.read_bytes()
    assert _cli(capsys, "compose", str(melody_run), "--bars", "4", "--out", str(out))[0] == 0
    second = out.read_bytes()
    assert _cli(capsys, "compose", str(melody_run), "--bars", "4", "--out", str(out))[0] == 0
    assert out.read_bytes() == second != first  # the same seed, the same piece; C major 4/4 differs
    bad = {
        ("--bars", "0"): "error: bars=0 is not valid: expected an integer from 1 to 256.",
        ("--temperature", "-1"): "error: temperature=-1.0 is not valid: expected a number >= 0 (0 = greedy",
        ("--key", "X major"): "error: key='X major' is not valid",
    }
    for extra, message in bad.items():
        code, _, err = _cli(capsys, "compose", str(melody_run), "--out", str(out), *extra)
        assert code == 2 and err.startswith(message) and len(err.strip().splitlines()) == 1, err
    melody = midi.write_midi(Piece([list(SOPRANO)], "3/4", 2.0, Key(7, "major")), tmp_path / "m.mid")
    code, _, err = _cli(capsys, "harmonize", str(melody_run), str(melody), "--out", str(tmp_path / "h.mid"))
    assert code == 2 and "harmonize needs a four-voice run (rnnkit train music --voices 4)" in err
    (tmp_path / "run.json").write_text(json.dumps({"format": "rnnkit.run/1", "task": "lm", "config": {}}))
    code, _, err = _cli(capsys, "compose", str(tmp_path), "--out", str(out))
    assert code == 2 and "holds a 'lm' run: expected a 'music' run" in err


# ------------------------------------------------------------------------------- four voices
@pytest.fixture(scope="module")
def four_run(tmp_path_factory):
    """An untrained four-voice run directory (weights at init): the plumbing, not the music."""
    from rnnkit.tasks import runs
    from rnnkit.tasks.music.config import MusicConfig
    from rnnkit.tasks.music.predictor import _build
    from rnnkit.tasks.music.train import build_model

    out = tmp_path_factory.mktemp("music4") / "run4"
    config = MusicConfig(voices=4, units=16, embed_dim=8, num_layers=1)
    run = runs.start_run(
        runs.TrainOptions(out, quiet=True), "music", config, data=runs.fingerprint(config.dataset)
    )
    torch.manual_seed(0)
    model = build_model(config)
    _build(model, 4)
    model.save(run.model_path)
    return out


def test_cli_harmonize_keeps_the_melody(four_run, tmp_path, capsys):
    melody = midi.write_midi(Piece([list(SOPRANO)], "3/4", 2.0, Key(7, "major")), tmp_path / "m.mid")
    out = tmp_path / "h.mid"
    code, stdout, err = _cli(
        capsys, "harmonize", str(four_run), str(melody), "--out", str(out), "--seed", "3"
    )
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}: 4 voice(s), 4.67 bars in G major, 3/4")
    import mido

    tracks = mido.MidiFile(out).tracks
    assert [t.name for t in tracks[1:]] == ["soprano", "alto", "tenor", "bass"]
    assert midi.read_melody(out).voices[0] == SOPRANO  # the soprano track is the melody given
    low = midi.write_midi(Piece([[(48, 2.0), (50, 2.0)]]), tmp_path / "low.mid")
    (tmp_path / "text.mid").write_text("MThd? no: a text file")
    for path, message in (
        (low, "error: soprano pitch='C3 (MIDI 48)' is not valid"),
        (tmp_path / "text.mid", ""),
    ):
        code, _, err = _cli(capsys, "harmonize", str(four_run), str(path), "--out", str(out))
        assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith(message or "error: "), err
    assert "is not a readable MIDI file" in err


def test_api_compose_and_harmonize(melody_run, four_run, tmp_path):
    import base64

    from fastapi.testclient import TestClient

    from rnnkit.server.app import create_app

    client = TestClient(create_app([melody_run, four_run]))
    r = client.post(
        "/api/compose", json={"run": "run4", "bars": 2, "key": "D minor", "seed": 1, "audio": False}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["voices"], body["key"], body["bars"], body["wav"]) == (4, "D minor", 2.0, None)
    assert base64.b64decode(body["midi"])[:4] == b"MThd" and len(body["notes"]) == 4
    for name, voice in zip(("soprano", "alto", "tenor", "bass"), body["notes"], strict=True):
        lo, hi = VOICE_RANGES[name]
        assert all(lo <= p <= hi for p, _, _ in voice)
    melody = base64.b64encode(midi.midi_bytes(Piece([list(SOPRANO)], "3/4", 2.0, Key(7, "major")))).decode()
    r = client.post("/api/harmonize", json={"run": "run4", "melody": melody, "audio": False})
    assert r.status_code == 200, r.text
    onsets = np.cumsum([0.0] + [d for _, d in SOPRANO[:-1]]).tolist()
    assert r.json()["notes"][0] == [[float(p), t, d] for (p, d), t in zip(SOPRANO, onsets, strict=True)]
    refused = {
        ("/api/compose", "key", "H major"): "key='H major' is not valid",
        ("/api/harmonize", "melody", base64.b64encode(b"RIFF....").decode()): "is not a readable MIDI file",
    }
    for (path, field, value), message in refused.items():
        payload = {"run": "run4", "audio": False, field: value}
        if path.endswith("harmonize"):
            payload.setdefault("melody", melody)
        r = client.post(path, json=payload)
        assert r.status_code == 400 and message in r.json()["error"], r.text
    r = client.post("/api/harmonize", json={"run": melody_run.name, "melody": melody, "audio": False})
    assert r.status_code == 400 and "needs a four-voice run" in r.json()["error"]
    if midi.shutil.which("fluidsynth") and midi.os.path.isfile(midi.SOUNDFONT):
        r = client.post("/api/compose", json={"run": "run4", "bars": 1, "tempo": 120})
        wav = base64.b64decode(r.json()["wav"])
        with wave.open(io.BytesIO(wav)) as w:  # mono 22.05 kHz for the page
            assert (w.getnchannels(), w.getframerate()) == (1, 22050) and w.getnframes() > 22050
