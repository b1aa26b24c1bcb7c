"""Pieces in and out: MIDI (mido), WAV (the fluidsynth program and a General MIDI soundfont),
a piano-roll PNG, MusicXML (music21, optional).

MIDI files are type 1: track 0 holds the tempo, the time signature and the key signature;
each voice is its own track on its own channel, named after the voice, starting after the
pickup's missing beats (``bar_offset``). Reading a melody
takes the track named "soprano" or "melody", else the highest-sounding track with notes,
and where its notes overlap the highest one (the "skyline"), quantised to sixteenths.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Any

from rnnkit.errors import ConfigError, DataError, MissingDependencyError, invalid
from rnnkit.models.plotting import new_figure, save_png
from rnnkit.tasks.music.theory import (
    MODES,
    PITCH_NAMES,
    REST,
    VOICE_RANGES,
    VOICES,
    Key,
    Piece,
    bar_length,
    check_range,
    quantize,
)
from rnnkit.utils.io import atomic_write

TICKS = 480  # per quarter note
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
PROGRAM = 19  # General MIDI "Church Organ" (0-based), the chorales' usual instrument
_MIDO = "MIDI needs the Python package 'mido': pip install 'rnnkit[music]'"
# mido's key_signature names: major "C", "F#", "Bb"; minor "Am", "C#m", "Ebm" ...
_MIDI_KEYS_MAJOR = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MIDI_KEYS_MINOR = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")


def _mido() -> Any:
    try:
        import mido
    except ImportError:
        raise MissingDependencyError(_MIDO) from None
    return mido


def midi_bytes(piece: Piece, program: int = PROGRAM) -> bytes:
    """The piece as a type-1 MIDI file: a meta track, then one track per voice."""
    mido = _mido()
    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS)
    meta = mido.MidiTrack()
    num, den = (int(x) for x in piece.meter.split("/"))
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(piece.tempo), time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0))
    names = _MIDI_KEYS_MAJOR if piece.key.mode == "major" else _MIDI_KEYS_MINOR
    meta.append(mido.MetaMessage("key_signature", key=names[piece.key.tonic], time=0))
    if piece.title:
        meta.append(mido.MetaMessage("track_name", name=piece.title, time=0))
    mid.tracks.append(meta)
    names_v = VOICES if len(piece.voices) > 1 else ("melody",)
    for ch, (name, events) in enumerate(zip(names_v, piece.voices, strict=False)):
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name=name, time=0))
        track.append(mido.Message("program_change", channel=ch, program=program, time=0))
        # A pickup starts after bar_offset quarter notes of silence, so the bar lines of the
        # file (and of any notation program reading it) fall where the music's do.
        wait = round(piece.bar_offset * TICKS)
        for pitch, dur in events:
            ticks = round(dur * TICKS)
            if pitch == REST:
                wait += ticks
                continue
            track.append(mido.Message("note_on", channel=ch, note=pitch, velocity=72, time=wait))
            track.append(mido.Message("note_off", channel=ch, note=pitch, velocity=0, time=ticks))
            wait = 0
        mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def write_midi(piece: Piece, path: str | os.PathLike[str]) -> Path:
    atomic_write(path, midi_bytes(piece))
    return Path(path)


def read_melody(path: str | os.PathLike[str], *, key: Key | None = None) -> Piece:
    """A one-voice Piece from a MIDI file (the soprano/melody track or the highest one; its top line).

    Meter and key come from the file's meta messages (else 4/4 and the key that fits the
    notes best); the first note's onset gives the pickup. Checked against the soprano range.
    """
    mido = _mido()
    p = Path(path)
    if not p.is_file():
        raise DataError(invalid("melody", str(path), "an existing MIDI file"))
    try:
        mid = mido.MidiFile(p)
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise DataError(f"{str(path)!r} is not a readable MIDI file ({exc}).") from None
    meter, midi_key = "4/4", None
    notes_per_track: list[tuple[str, list[tuple[float, float, int]]]] = []
    for track in mid.tracks:
        now, on, notes = 0, {}, []
        for msg in track:
            now += msg.time
            if msg.type == "time_signature":
                meter = f"{msg.numerator}/{msg.denominator}"
            elif msg.type == "key_signature":
                midi_key = msg.key
            elif msg.type == "note_on" and msg.velocity > 0:
                on[msg.note] = now
            elif msg.type in ("note_off", "note_on") and msg.note in on:
                start = on.pop(msg.note)
                notes.append((start / mid.ticks_per_beat, (now - start) / mid.ticks_per_beat, msg.note))
        notes_per_track.append((track.name.strip().lower(), notes))
    tracks = [(name, notes) for name, notes in notes_per_track if notes]
    if not tracks:
        raise DataError(f"{str(path)!r} holds no notes.")
    named = [notes for name, notes in tracks if name in ("soprano", "melody")]
    notes = named[0] if named else max((n for _, n in tracks), key=lambda n: sum(x[2] for x in n) / len(n))
    events = _skyline(notes)
    check_range("soprano", [q for q, _ in events])
    first = min(start for start, _, _ in notes)
    bar = bar_length(meter)
    if key is None:
        key = _parse_midi_key(midi_key) if midi_key else guess_key([q for q, _ in events])
    return Piece([events], meter, round(first / 0.25) * 0.25 % bar, key, title=p.stem)


def _skyline(notes: list[tuple[float, float, int]]) -> list[tuple[int, float]]:
    """Monophonic (pitch, duration) events on the sixteenth grid: the highest note sounding,
    rests in the gaps, starting at the first note."""
    notes = sorted(notes, key=lambda n: (n[0], -n[2]))
    start0 = quantize(notes[0][0]) if notes[0][0] > 0.125 else 0.0
    events: list[tuple[int, float]] = []
    t = start0
    for start, dur, pitch in notes:
        s = round(start / 0.25) * 0.25
        if s < t - 1e-6:
            continue  # overlaps the line (a chord or a lower voice): keep the top note only
        if s > t + 1e-6:
            events.append((REST, s - t))
        d = quantize(dur)
        events.append((pitch, d))
        t = s + d
    return events


def _parse_midi_key(name: str) -> Key:
    minor = name.endswith("m")
    return Key.parse(f"{name[:-1] if minor else name} {'minor' if minor else 'major'}")


def guess_key(pitches: list[int]) -> Key:
    """The key whose scale holds most notes; ties go to the key whose tonic the line ends on."""
    notes = [p for p in pitches if p != REST]

    def score(k: Key) -> tuple[float, int, int]:
        return (
            sum(k.contains(p) for p in notes) / len(notes),
            notes[-1] % 12 == k.tonic,
            k.mode == "major",
        )

    return max((Key(t, m) for m in MODES for t in range(12)), key=score)


# ------------------------------------------------------------------ audio
def render_wav(
    midi_path: str | os.PathLike[str],
    wav_path: str | os.PathLike[str],
    *,
    rate: int = 44100,
    mono: bool = False,
) -> Path:
    """Render a MIDI file to a 16-bit WAV with the fluidsynth program and the GM soundfont
    (stereo; ``mono=True`` averages the channels: half the bytes, for the web page).

    MissingDependencyError, naming the Debian packages, when either is missing.
    """
    binary = shutil.which("fluidsynth")
    if binary is None or not os.path.isfile(SOUNDFONT):
        missing = "the fluidsynth program" if binary is None else f"the soundfont {SOUNDFONT}"
        raise MissingDependencyError(
            f"WAV needs {missing}: apt-get install fluidsynth fluid-soundfont-gm (the MIDI file is written)."
        )
    target = Path(wav_path)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        # -n no MIDI input, -i no shell, -F render to file, -g gain (four voices: keep headroom).
        cmd = [binary, "-ni", "-g", "0.5", "-r", str(rate), "-F", str(out), SOUNDFONT, str(midi_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0 or not out.is_file():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DataError(f"fluidsynth failed to render {str(midi_path)!r}: {tail[0]}")
        atomic_write(target, _downmix(out.read_bytes()) if mono else out.read_bytes())
    return target


def _downmix(wav: bytes) -> bytes:
    """A 16-bit stereo WAV as mono (the mean of the two channels)."""
    import numpy as np

    with wave.open(io.BytesIO(wav)) as r:
        rate, channels, width = r.getframerate(), r.getnchannels(), r.getsampwidth()
        frames = np.frombuffer(r.readframes(r.getnframes()), dtype=np.int16)
    if channels == 1 or width != 2:
        return wav
    mono = frames.reshape(-1, channels).astype(np.int32).mean(axis=1).round().astype(np.int16)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(mono.tobytes())
    return buf.getvalue()


def wav_bytes(piece: Piece, *, rate: int = 44100, mono: bool = False) -> bytes:
    """The piece rendered to WAV bytes (see :func:`render_wav`)."""
    with tempfile.TemporaryDirectory() as tmp:
        mid = write_midi(piece, Path(tmp) / "piece.mid")
        return render_wav(mid, Path(tmp) / "piece.wav", rate=rate, mono=mono).read_bytes()


# ------------------------------------------------------------------ pictures and scores
COLORS = {"soprano": "#c0392b", "alto": "#d68910", "tenor": "#1e8449", "bass": "#2874a6", "melody": "#c0392b"}


def plot_piano_roll(piece: Piece, path: str | os.PathLike[str]) -> Path:
    """A piano roll: time in bars on x, pitch on y, one colour per voice, bar lines."""
    bar = bar_length(piece.meter)
    width = min(24.0, 3.0 + piece.duration / bar * 0.9)
    fig = new_figure(width, 4.2)
    ax = fig.subplots()
    names = VOICES if len(piece.voices) > 1 else ("melody",)
    for name, events in zip(names, piece.voices, strict=False):
        t, spans = 0.0, {}
        for pitch, dur in events:
            if pitch != REST:
                spans.setdefault(pitch, []).append((t, dur * 0.96))
            t += dur
        for pitch, bars in spans.items():
            ax.broken_barh(bars, (pitch - 0.4, 0.8), color=COLORS[name], label=name)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), loc="upper right", fontsize=8)
    first_line = (bar - piece.bar_offset) % bar
    for x in [first_line + i * bar for i in range(int(piece.duration // bar) + 2)]:
        if x <= piece.duration:
            ax.axvline(x, color="#999999", linewidth=0.6)
    lo = min(VOICE_RANGES[n][0] for n in (names if len(names) > 1 else ("soprano",)))
    hi = max(VOICE_RANGES[n][1] for n in (names if len(names) > 1 else ("soprano",)))
    ticks = [p for p in range(lo, hi + 1) if p % 12 == 0]
    ax.set_yticks(ticks, [f"C{p // 12 - 1}" for p in ticks])
    ax.set_ylim(lo - 1, hi + 1)
    ax.set_xlim(0, piece.duration)
    ax.set_xlabel("quarter notes")
    ax.set_title(f"{piece.title or 'piece'}: {piece.key}, {piece.meter}")
    return save_png(fig, path)


def write_musicxml(piece: Piece, path: str | os.PathLike[str]) -> Path:
    """MusicXML through music21 (the ``music`` extra), one part per voice."""
    try:
        from music21 import key as m21key
        from music21 import meter, note, stream
    except ImportError:
        raise MissingDependencyError("MusicXML needs music21: pip install 'rnnkit[music]'") from None
    score = stream.Score()
    names = VOICES if len(piece.voices) > 1 else ("melody",)
    for name, events in zip(names, piece.voices, strict=False):
        part = stream.Part(id=name)
        part.partName = name.capitalize()
        part.append(meter.TimeSignature(piece.meter))
        tonic = PITCH_NAMES[piece.key.tonic].replace("b", "-")
        part.append(m21key.Key(tonic if piece.key.mode == "major" else tonic.lower()))
        for pitch, dur in events:
            el = note.Rest(quarterLength=dur) if pitch == REST else note.Note(pitch, quarterLength=dur)
            part.append(el)
        score.insert(0, part)
    with tempfile.TemporaryDirectory() as tmp:
        written = score.write("musicxml", fp=str(Path(tmp) / "piece.musicxml"))
        atomic_write(path, Path(written).read_bytes())
    return Path(path)


def check_suffix(path: str | os.PathLike[str], suffixes: tuple[str, ...], name: str) -> None:
    if Path(path).suffix.lower() not in suffixes:
        raise ConfigError(invalid(name, str(path), f"a file name ending in {' or '.join(suffixes)}"))
