"""The music task's use commands: ``rnnkit compose`` and ``rnnkit harmonize``.

    rnnkit compose runs/bach --bars 16 --temperature 0.9 --seed 0 --out piece.mid \
        [--wav piece.wav] [--plot roll.png] [--xml piece.musicxml]
    rnnkit harmonize runs/bach melody.mid --out chorale.mid [--wav chorale.wav] [--plot roll.png]

No torch at import time (``rnnkit --help`` imports this module): the work is imported inside.
Without the fluidsynth program the MIDI file is still written and one line says why there
is no WAV (exit code 0); bad input is one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

_TEMPERATURE = "Sampling temperature, >= 0: lower is more conservative; 0 = greedy (the most likely choice)."


def _write(
    piece: Any, out: Path, wav: Path | None, plot: Path | None, xml: Path | None, tempo: int
) -> dict[str, Any]:
    """Write the piece's files; a missing fluidsynth only drops the WAV (reported, not fatal)."""
    from rnnkit.errors import MissingDependencyError
    from rnnkit.tasks.music import midi

    midi.check_suffix(out, (".mid", ".midi"), "out")
    if wav is not None:
        midi.check_suffix(wav, (".wav",), "wav")
    if plot is not None:
        midi.check_suffix(plot, (".png",), "plot")
    if xml is not None:
        midi.check_suffix(xml, (".musicxml", ".xml"), "xml")
    piece.tempo = tempo
    written = {"midi": str(midi.write_midi(piece, out))}
    if wav is not None:
        try:
            written["wav"] = str(midi.render_wav(out, wav))
        except MissingDependencyError as exc:
            typer.echo(f"no WAV written: {exc}", err=True)
    if plot is not None:
        written["plot"] = str(midi.plot_piano_roll(piece, plot))
    if xml is not None:
        written["musicxml"] = str(midi.write_musicxml(piece, xml))
    return written


def _summary(piece: Any, written: dict[str, Any]) -> dict[str, Any]:
    from rnnkit.tasks.music.theory import bar_length

    return {
        "voices": len(piece.voices),
        "key": str(piece.key),
        "meter": piece.meter,
        "bars": round((piece.duration + piece.bar_offset) / bar_length(piece.meter), 2),  # pickup bar counted
        "notes": sum(1 for v in piece.voices for p, _ in v if p >= 0),
        "files": written,
    }


def _report(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    files = ", ".join(summary["files"].values())
    typer.echo(
        f"wrote {files}: {summary['voices']} voice(s), {summary['bars']} bars in {summary['key']}, "
        f"{summary['meter']}, {summary['notes']} notes"
    )


def compose(
    run: Annotated[Path, typer.Argument(help="A music run directory (rnnkit train music).")],
    out: Annotated[Path, typer.Option(help="The MIDI file to write (.mid).")],
    bars: Annotated[int, typer.Option(help="Length in bars (1-256).")] = 16,
    key: Annotated[str, typer.Option(help="Starting key, e.g. 'G major', 'F# minor'.")] = "C major",
    meter: Annotated[str, typer.Option(help="Time signature, e.g. 4/4 or 3/4.")] = "4/4",
    pickup: Annotated[float, typer.Option(help="Quarter notes of upbeat before the first bar.")] = 0.0,
    temperature: Annotated[float, typer.Option(help=_TEMPERATURE)] = 1.0,
    top_k: Annotated[int | None, typer.Option(help="Sample only from the K most likely choices.")] = None,
    top_p: Annotated[float | None, typer.Option(help="Sample from the smallest set with mass >= P.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same piece.")] = 0,
    allow_parallels: Annotated[
        bool, typer.Option(help="Four voices: allow consecutive fifths and octaves (forbidden by default).")
    ] = False,
    tempo: Annotated[int, typer.Option(help="Quarter notes per minute.")] = 80,
    wav: Annotated[Path | None, typer.Option(help="Also render audio with fluidsynth (.wav).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Also draw the piano roll (.png).")] = None,
    xml: Annotated[Path | None, typer.Option(help="Also write MusicXML through music21.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Compose a new melody or four-voice chorale; write MIDI (and WAV, a piano roll, MusicXML)."""
    from rnnkit.tasks.music.predictor import MusicModel
    from rnnkit.tasks.music.sampling import Sampling, check_bars
    from rnnkit.tasks.music.theory import Key, bar_length

    check_bars(bars)
    sampling = Sampling(temperature, top_k, top_p, seed, avoid_parallels=not allow_parallels)
    key_ = Key.parse(key)
    bar_length(meter)
    music = MusicModel.load(run)
    piece = music.compose(bars=bars, key=key_, meter=meter, sampling=sampling, pickup=pickup)[0]
    _report(_summary(piece, _write(piece, out, wav, plot, xml, tempo)), as_json)


def harmonize(
    run: Annotated[Path, typer.Argument(help="A four-voice music run (rnnkit train music --voices 4).")],
    melody: Annotated[Path, typer.Argument(help="A MIDI file with the melody (its top line is used).")],
    out: Annotated[Path, typer.Option(help="The MIDI file to write (.mid).")],
    key: Annotated[
        str | None, typer.Option(help="The melody's key (default: the file's, else guessed).")
    ] = None,
    temperature: Annotated[float, typer.Option(help=_TEMPERATURE)] = 0.7,
    top_k: Annotated[int | None, typer.Option(help="Sample only from the K most likely choices.")] = None,
    top_p: Annotated[float | None, typer.Option(help="Sample from the smallest set with mass >= P.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same harmony.")] = 0,
    allow_parallels: Annotated[
        bool, typer.Option(help="Four voices: allow consecutive fifths and octaves (forbidden by default).")
    ] = False,
    tempo: Annotated[int, typer.Option(help="Quarter notes per minute.")] = 80,
    wav: Annotated[Path | None, typer.Option(help="Also render audio with fluidsynth (.wav).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Also draw the piano roll (.png).")] = None,
    xml: Annotated[Path | None, typer.Option(help="Also write MusicXML through music21.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Harmonise a melody: the soprano as given, alto, tenor and bass generated under it."""
    from rnnkit.tasks.music.midi import read_melody
    from rnnkit.tasks.music.predictor import MusicModel
    from rnnkit.tasks.music.sampling import Sampling
    from rnnkit.tasks.music.theory import Key

    sampling = Sampling(temperature, top_k, top_p, seed, avoid_parallels=not allow_parallels)
    music = MusicModel.load(run)
    tune = read_melody(melody, key=Key.parse(key) if key else None)
    piece = music.harmonize(tune, sampling=sampling)[0]
    _report(_summary(piece, _write(piece, out, wav, plot, xml, tempo)), as_json)


COMMANDS = {"compose": compose, "harmonize": harmonize}
