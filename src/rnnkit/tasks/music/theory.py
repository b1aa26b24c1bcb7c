"""Music facts the music task needs, in plain Python: pieces, keys, meters, voice ranges,
and the musical checks that compare generated chorales with Bach's.

A :class:`Piece` is what every part of the task exchanges: the voices (soprano first) as
``(midi_pitch, quarter_notes)`` events back to back from time 0 (``REST`` = -1), the time
signature, where the first note falls in its bar (a pickup) and the key. Real chorales,
generated ones and a user's melody read from MIDI are all Pieces, so the MIDI writer and
the checks treat them alike.

No torch here: the CLI's help and the page import this module.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from rnnkit.errors import ConfigError, invalid

REST = -1
VOICES = ("soprano", "alto", "tenor", "bass")
# Ranges (MIDI, inclusive) the samplers keep each voice in: the extremes the 371 chorales
# reach (soprano A3-A5, alto F3-D5, tenor C3-A4, bass C2-E4), so every real line fits.
VOICE_RANGES: dict[str, tuple[int, int]] = {
    "soprano": (57, 81),
    "alto": (53, 74),
    "tenor": (48, 69),
    "bass": (36, 64),
}
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_TONICS = {name: pc for pc, name in enumerate(PITCH_NAMES)} | {
    "Db": 1,
    "D#": 3,
    "Gb": 6,
    "G#": 8,
    "A#": 10,
    "Cb": 11,
    "B#": 0,
    "E#": 5,
    "Fb": 4,
}
MODES = ("major", "minor")
METERS = ("4/4", "3/4", "3/2", "2/4", "6/8", "12/8", "2/2", "6/4")
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
# Minor: natural, harmonic and melodic together (the raised 6th and 7th are in key).
_MINOR = (0, 2, 3, 5, 7, 8, 9, 10, 11)


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class 0..11 (0 = C)
    mode: str  # "major" | "minor"

    @classmethod
    def parse(cls, text: str) -> Key:
        """ "G major", "f# minor", "Bb" (major), "e" (lower case: minor), "Eb minor"."""
        parts = text.strip().replace("-", "b").split()
        if not parts or len(parts) > 2:
            raise ConfigError(invalid("key", text, "a tonic and a mode, e.g. 'G major' or 'F# minor'"))
        name = parts[0]
        mode = parts[1].lower() if len(parts) == 2 else ("minor" if name[0].islower() else "major")
        tonic = _TONICS.get(name[0].upper() + name[1:])
        if tonic is None or mode not in MODES:
            raise ConfigError(invalid("key", text, "a tonic and a mode, e.g. 'G major' or 'F# minor'"))
        return cls(tonic, mode)

    @property
    def index(self) -> int:
        """0..23: tonic, then +12 for minor (the key embedding's row)."""
        return self.tonic + 12 * MODES.index(self.mode)

    def transpose(self, semitones: int) -> Key:
        return Key((self.tonic + semitones) % 12, self.mode)

    def contains(self, pitch: int) -> bool:
        return (pitch - self.tonic) % 12 in (_MAJOR if self.mode == "major" else _MINOR)

    def __str__(self) -> str:
        return f"{PITCH_NAMES[self.tonic]} {self.mode}"


def bar_length(meter: str) -> float:
    """Quarter notes in one bar: "3/4" -> 3.0, "6/8" -> 3.0, "3/2" -> 6.0."""
    try:
        num, den = (int(x) for x in meter.split("/"))
    except ValueError:
        raise ConfigError(invalid("meter", meter, "a time signature such as '4/4' or '3/4'")) from None
    if num <= 0 or den not in (1, 2, 4, 8, 16):
        raise ConfigError(invalid("meter", meter, "a time signature such as '4/4' or '3/4'"))
    return num * 4.0 / den


def estimate_key(signature_key: str, voices: list[list[tuple[int, float]]]) -> Key:
    """The key of a chorale from its written key signature (read as major by the parser) and
    its last bass note: chorales end on the tonic, so a final bass on the relative minor's
    tonic, or on its dominant (the Phrygian cadence), makes it minor."""
    major = Key.parse(signature_key) if signature_key else Key(0, "major")
    if major.mode == "minor":
        return major
    last_bass = next((p for p, _ in reversed(voices[-1]) if p != REST), None)
    relative = (major.tonic + 9) % 12
    if (
        last_bass is not None
        and last_bass % 12 in (relative, (relative + 7) % 12)
        and (last_bass % 12 != major.tonic)
    ):
        return Key(relative, "minor")
    return major


@dataclass
class Piece:
    """Voices as (MIDI pitch, quarter notes) events, soprano first; meter, pickup, key."""

    voices: list[list[tuple[int, float]]]
    meter: str = "4/4"
    bar_offset: float = 0.0  # quarter notes from the start of the first bar to the first note
    key: Key = field(default_factory=lambda: Key(0, "major"))
    tempo: int = 80  # quarter notes per minute, for MIDI and audio
    title: str = ""

    @property
    def duration(self) -> float:
        return max(sum(d for _, d in v) for v in self.voices)

    def grid(self, step: float = 0.25) -> list[list[int]]:
        """What each voice sounds on a grid of ``step`` quarter notes: (T, V) pitches or REST."""
        steps = math.ceil(self.duration / step - 1e-6)
        out = [[REST] * len(self.voices) for _ in range(steps)]
        for v, events in enumerate(self.voices):
            t = 0.0
            for pitch, dur in events:
                for i in range(math.ceil(t / step - 1e-6), math.ceil((t + dur) / step - 1e-6)):
                    if i < steps:
                        out[i][v] = pitch
                t += dur
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "voices": [[[p, d] for p, d in v] for v in self.voices],
            "meter": self.meter,
            "bar_offset": self.bar_offset,
            "key": str(self.key),
            "tempo": self.tempo,
            "title": self.title,
        }


def piece_from_chorale(chorale: Any) -> Piece:
    """A :class:`rnnkit.datasets.chorales.Chorale` as a Piece (its key estimated, see estimate_key)."""
    return Piece(
        voices=[list(v) for v in chorale.voices],
        meter=chorale.time_signature or "4/4",
        bar_offset=float(chorale.bar_offset),
        key=estimate_key(chorale.key, chorale.voices),
        title=chorale.title,
    )


def check_range(voice: str, pitches: list[int]) -> None:
    """ConfigError naming the first pitch outside ``VOICE_RANGES[voice]``."""
    lo, hi = VOICE_RANGES[voice]
    for p in pitches:
        if p != REST and not lo <= p <= hi:
            raise ConfigError(
                invalid(
                    f"{voice} pitch",
                    f"{pitch_name(p)} (MIDI {p})",
                    f"{pitch_name(lo)}-{pitch_name(hi)} (MIDI {lo}-{hi})",
                )
            )


def pitch_name(midi: int) -> str:
    return f"{PITCH_NAMES[midi % 12]}{midi // 12 - 1}"


def quantize(quarters: float, step: float = 0.25) -> float:
    """Snap a duration to the grid (at least one step)."""
    return max(step, round(quarters / step) * step)


def fraction_text(quarters: float) -> str:
    return str(Fraction(quarters).limit_denominator(12))


# ------------------------------------------------------------------ musical checks
def _bars(piece: Piece, voice: int, step: float) -> list[tuple[int, ...]]:
    """One voice's grid cut into bars (pickup first), each as a tuple of (pitch, onset) codes."""
    grid = piece.grid(step)
    onsets = set()
    t = 0.0
    for _, d in piece.voices[voice]:
        onsets.add(round(t / step))
        t += d
    codes = [grid[i][voice] * 2 + (i in onsets) for i in range(len(grid))]
    per_bar = round(bar_length(piece.meter) / step)
    first = round((bar_length(piece.meter) - piece.bar_offset) / step) % per_bar or per_bar
    cuts = [0, first, *range(first + per_bar, len(codes), per_bar)]
    return [tuple(codes[a:b]) for a, b in zip(cuts, [*cuts[1:], len(codes)], strict=True) if b > a]


def musical_checks(pieces: list[Piece], step: float = 0.25) -> dict[str, Any]:
    """Figures over a set of pieces (tables, not opinions):

    * ``range``: per voice, the lowest, highest and mean sounding pitch (MIDI);
    * ``in_key``: the share of notes whose pitch class is in the piece's key (minor counts
      the raised 6th and 7th);
    * ``parallels``: per 100 chord changes (grid steps where a voice moves), consecutive
      fifths or octaves/unisons between any two voices moving in the same direction;
    * ``crossing``: the share of grid steps where a lower voice sounds above a higher one;
    * ``repeated_bars``: the share of bars (after the first) equal to the bar before, per voice.
    """
    n_voices = min(len(p.voices) for p in pieces)
    lows: list[list[int]] = [[] for _ in range(n_voices)]
    notes = in_key = 0
    changes = parallel = 0
    steps = crossed = 0
    bars = repeats = 0
    for piece in pieces:
        for v in range(n_voices):
            pitches = [p for p, _ in piece.voices[v] if p != REST]
            lows[v].extend(pitches)
            notes += len(pitches)
            in_key += sum(piece.key.contains(p) for p in pitches)
            vb = _bars(piece, v, step)
            bars += max(0, len(vb) - 1)
            repeats += sum(a == b for a, b in itertools.pairwise(vb))
        if n_voices < 2:
            continue
        grid = piece.grid(step)
        prev = None
        for chord in grid:
            chord = chord[:n_voices]
            if all(p != REST for p in chord):
                steps += 1
                crossed += any(chord[v] < chord[v + 1] for v in range(n_voices - 1))
            if prev is not None and chord != prev and REST not in chord and REST not in prev:
                changes += 1
                for a in range(n_voices):
                    for b in range(a + 1, n_voices):
                        da, db = chord[a] - prev[a], chord[b] - prev[b]
                        same_way = da * db > 0  # both move, in the same direction
                        ia, ib = (prev[a] - prev[b]) % 12, (chord[a] - chord[b]) % 12
                        if same_way and ia == ib and ia in (0, 7):
                            parallel += 1
            prev = chord
    out: dict[str, Any] = {
        "pieces": len(pieces),
        "range": {
            VOICES[v] if n_voices > 1 else "melody": {
                "lowest": min(lows[v]) if lows[v] else None,
                "highest": max(lows[v]) if lows[v] else None,
                "mean": round(sum(lows[v]) / len(lows[v]), 2) if lows[v] else None,
            }
            for v in range(n_voices)
        },
        "in_key": round(in_key / max(notes, 1), 4),
        "repeated_bars": round(repeats / max(bars, 1), 4),
    }
    if n_voices > 1:
        out["parallels_per_100_changes"] = round(100 * parallel / max(changes, 1), 3)
        out["crossing"] = round(crossed / max(steps, 1), 4)
    return out
