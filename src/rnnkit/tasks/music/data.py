"""Chorales as arrays for the two models, with key transposition as augmentation.

Melody (``voices=1``): one token per soprano note, a (pitch, duration) pair. The model
reads the previous note and where the next one starts in its bar, and predicts the next
pitch, then its duration given the pitch. Arrays per piece, length N notes:

    pitch_in, dur_in, degree_in  the previous note (BOS at 0), its scale degree
    pos                          onset of note t in its bar, in sixteenths
    left                         quarter notes from that onset to the end (capped)
    pitch, dur                   the targets

Four voices (``voices=4``): a sixteenth-note grid, one token per voice per step:
``0..127`` a note starting at that MIDI pitch, ``REST_ID`` a rest starting, ``HOLD_ID``
the sound of the step before goes on (so repeated notes differ from held ones, as in
DeepBach). Arrays per piece, length T steps, V = 4:

    tok_in, sound_in (T, V)  the previous step's tokens and what each voice sounded (BOS at 0)
    degree_in (T, V)         those sounds' scale degrees
    pos, left (T,)           step position in its bar (sixteenths); quarter notes to the end
    tok, sound (T, V)        the targets, and what they sound (the heads condition on them)

Both also carry the key (0..23, tonic + 12 * minor) and the meter (index in METERS) per
piece. Transposing shifts every pitch and the key by k semitones; training draws a fresh
k per piece per epoch among the shifts that keep every voice in its range.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from rnnkit.errors import ConfigError, DataError, invalid
from rnnkit.tasks.music.theory import METERS, REST, VOICE_RANGES, VOICES, Key, Piece, bar_length

STEP = 0.25  # grid step in quarter notes: a sixteenth
N_PITCH = 129  # MIDI 0..127, then REST_ID
REST_ID = 128
HOLD_ID = 129
N_TOKENS = 130  # what a voice can do at a grid step (model output classes)
BOS_PITCH = 129  # input only: "nothing before"
BOS_TOKEN = 130
N_POS = 64  # positions in a bar, in sixteenths (a 12/8 or 4/2 bar has 24 or 32)
# The soprano durations of the 371 chorales (quarter notes), the melody model's classes.
DURATIONS = (0.125, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 14.0, 16.0)
BOS_DUR = len(DURATIONS)
N_LEFT = 18  # quarter notes still to go before the end, 0..16, then 17 = "more"
MAX_SHIFT = 6  # transpositions drawn from -MAX_SHIFT .. +MAX_SHIFT semitones


def meter_index(meter: str) -> int:
    if meter not in METERS:
        raise ConfigError(invalid("meter", meter, METERS))
    return METERS.index(meter)


def duration_index(quarters: float) -> int:
    """The class of a duration: the nearest of DURATIONS (exact for every chorale note)."""
    return min(range(len(DURATIONS)), key=lambda i: abs(DURATIONS[i] - quarters))


def position(onset: float, bar_offset: float, meter: str) -> int:
    """The sixteenth of its bar at which ``onset`` (quarter notes from the first note) falls."""
    bar = bar_length(meter)
    return min(N_POS - 1, round(((onset + bar_offset) % bar) / STEP))


def left_bucket(remaining: float) -> int:
    return min(N_LEFT - 1, int(remaining + 1e-6))


def shifts(piece: Piece) -> list[int]:
    """Transpositions (semitones) that keep each voice of ``piece`` inside its VOICE_RANGES."""
    names = VOICES if len(piece.voices) > 1 else VOICES[:1]
    ok = []
    for k in range(-MAX_SHIFT, MAX_SHIFT + 1):
        fits = True
        for name, events in zip(names, piece.voices, strict=False):
            lo, hi = VOICE_RANGES[name]
            pitches = [p for p, _ in events if p != REST]
            if pitches and (min(pitches) + k < lo or max(pitches) + k > hi):
                fits = False
                break
        if fits:
            ok.append(k)
    return ok or [0]


def transpose(piece: Piece, k: int) -> Piece:
    voices = [[(p + k if p != REST else REST, d) for p, d in v] for v in piece.voices]
    return Piece(voices, piece.meter, piece.bar_offset, piece.key.transpose(k), piece.tempo, piece.title)


# ------------------------------------------------------------------ melody
@dataclass
class MelodyArrays:
    pitch_in: np.ndarray  # (N,) int64
    dur_in: np.ndarray
    degree_in: np.ndarray
    pos: np.ndarray
    left: np.ndarray
    pitch: np.ndarray
    dur: np.ndarray
    key: int
    meter: int


def degree(pitch: int, key: Key) -> int:
    """0..11 semitones above the tonic; 12 for a rest or the start."""
    return 12 if pitch in (REST, BOS_PITCH) else (pitch - key.tonic) % 12


def encode_melody(piece: Piece) -> MelodyArrays:
    events = piece.voices[0]
    if not events:
        raise DataError("a melody needs at least one note.")
    pitch = np.array([REST_ID if p == REST else p for p, _ in events], dtype=np.int64)
    dur = np.array([duration_index(d) for _, d in events], dtype=np.int64)
    onsets = np.concatenate([[0.0], np.cumsum([d for _, d in events])[:-1]])
    pos = np.array([position(t, piece.bar_offset, piece.meter) for t in onsets], dtype=np.int64)
    total = sum(d for _, d in events)
    left = np.array([left_bucket(total - t) for t in onsets], dtype=np.int64)
    pitch_in = np.concatenate([[BOS_PITCH], pitch[:-1]])
    dur_in = np.concatenate([[BOS_DUR], dur[:-1]])
    degree_in = np.array(
        [degree(REST if p == REST_ID else int(p), piece.key) for p in pitch_in], dtype=np.int64
    )
    return MelodyArrays(
        pitch_in, dur_in, degree_in, pos, left, pitch, dur, piece.key.index, meter_index(piece.meter)
    )


# ------------------------------------------------------------------ four voices on a grid
@dataclass
class GridArrays:
    tok_in: np.ndarray  # (T, V) int64
    sound_in: np.ndarray  # (T, V)
    degree_in: np.ndarray  # (T, V)
    pos: np.ndarray  # (T,)
    left: np.ndarray  # (T,)
    tok: np.ndarray  # (T, V)
    sound: np.ndarray  # (T, V)
    key: int
    meter: int


def grid_tokens(piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    """(T, V) step tokens (onset pitch / REST_ID / HOLD_ID) and (T, V) sounding pitch or REST_ID."""
    steps = math.ceil(piece.duration / STEP - 1e-6)
    tok = np.full((steps, len(piece.voices)), HOLD_ID, dtype=np.int64)
    sound = np.full((steps, len(piece.voices)), REST_ID, dtype=np.int64)
    for v, events in enumerate(piece.voices):
        t = 0.0
        for p, d in events:
            a, b = math.ceil(t / STEP - 1e-6), math.ceil((t + d) / STEP - 1e-6)
            t += d
            if b <= a:  # shorter than a step between grid points (10 notes of 0.125): vanishes
                continue
            code = REST_ID if p == REST else p
            tok[a, v] = code
            sound[a:b, v] = code
    return tok, sound


def encode_grid(piece: Piece) -> GridArrays:
    tok, sound = grid_tokens(piece)
    steps, n_voices = tok.shape
    bos_tok = np.full((1, n_voices), BOS_TOKEN, dtype=np.int64)
    bos_sound = np.full((1, n_voices), BOS_PITCH, dtype=np.int64)
    pos = np.array([position(i * STEP, piece.bar_offset, piece.meter) for i in range(steps)], dtype=np.int64)
    left = np.array([left_bucket(piece.duration - i * STEP) for i in range(steps)], dtype=np.int64)
    sound_in = np.concatenate([bos_sound, sound[:-1]])
    return GridArrays(
        np.concatenate([bos_tok, tok[:-1]]),
        sound_in,
        degrees(sound_in, piece.key),
        pos,
        left,
        tok,
        sound,
        piece.key.index,
        meter_index(piece.meter),
    )


def degrees(sound: np.ndarray, key: Key) -> np.ndarray:
    """Scale degree (0..11 above the tonic) of sounding pitches; 12 for rests and BOS."""
    return np.where(sound < REST_ID, (sound - key.tonic) % 12, 12)


def decode_grid(tok: np.ndarray) -> list[list[tuple[int, float]]]:
    """(T, V) step tokens back to events per voice (a leading HOLD counts as a rest)."""
    voices = []
    for v in range(tok.shape[1]):
        events: list[tuple[int, float]] = []
        for code in tok[:, v].tolist():
            if code == HOLD_ID and events:
                p, d = events[-1]
                events[-1] = (p, d + STEP)
            else:
                events.append((REST if code in (REST_ID, HOLD_ID) else int(code), STEP))
        voices.append(events)
    return voices


# ------------------------------------------------------------------ batches
def _pad(arrays: list[np.ndarray], value: int) -> torch.Tensor:
    """Right-pad (N_i, ...) arrays to (B, N_max, ...): right padding keeps the fused kernels,
    and a causal model's outputs at real steps never see the padding."""
    longest = max(len(a) for a in arrays)
    out = np.full((len(arrays), longest, *arrays[0].shape[1:]), value, dtype=np.int64)
    for i, a in enumerate(arrays):
        out[i, : len(a)] = a
    return torch.from_numpy(out)


def _context(items: list[MelodyArrays] | list[GridArrays]) -> tuple[torch.Tensor, ...]:
    """The inputs both models read beside their own tokens: degree_in, pos, left (B, N), padded,
    and key, meter (B,), one per piece."""
    return (
        _pad([a.degree_in for a in items], 12),
        _pad([a.pos for a in items], 0),
        _pad([a.left for a in items], 0),
        torch.tensor([a.key for a in items]),
        torch.tensor([a.meter for a in items]),
    )


def melody_batch(items: list[MelodyArrays]) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """x = (pitch_in, dur_in, degree_in, pos, left, key, meter, pitch); y = (pitch, dur), -1 at padding.

    The target pitch is also an input: the duration head is conditioned on it (teacher forcing).
    """
    pitch = _pad([a.pitch for a in items], -1)
    x = (
        _pad([a.pitch_in for a in items], BOS_PITCH),
        _pad([a.dur_in for a in items], BOS_DUR),
        *_context(items),
        pitch.clamp(min=0),
    )
    y = (pitch, _pad([a.dur for a in items], -1))
    return x, y


def grid_batch(items: list[GridArrays]) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """x = (tok_in, sound_in, degree_in, pos, left, key, meter, tok, sound); y = tok (B, T, V),
    -1 at padding. The targets are inputs too: voice v's head is conditioned on voices < v."""
    tok = _pad([a.tok for a in items], -1)
    x = (
        _pad([a.tok_in for a in items], BOS_TOKEN),
        _pad([a.sound_in for a in items], BOS_PITCH),
        *_context(items),
        tok.clamp(min=0),
        _pad([a.sound for a in items], 0),
    )
    return x, tok


class PieceBatches:
    """An iterable of (x, y) batches over pieces for ``Model.fit``/``evaluate``.

    With ``augment``, each pass (epoch) draws one transposition per piece among
    :func:`shifts` and a new order; batches group pieces of similar length (less padding).
    Deterministic for a given ``seed``.
    """

    def __init__(
        self, pieces: list[Piece], voices: int, batch_size: int, *, augment: bool = False, seed: int = 0
    ) -> None:
        if not pieces:
            raise DataError("no pieces to batch.")
        self.pieces = pieces
        self.voices = voices
        self.batch_size = batch_size
        self.augment = augment
        self.rng = np.random.default_rng(seed)
        self._shifts = [shifts(p) for p in pieces]
        self._fixed = None if augment else [self._encode(p) for p in pieces]

    def _encode(self, piece: Piece) -> MelodyArrays | GridArrays:
        return encode_melody(piece) if self.voices == 1 else encode_grid(piece)

    def __len__(self) -> int:
        return math.ceil(len(self.pieces) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[tuple[torch.Tensor, ...], object]]:
        if self.augment:
            items = [
                self._encode(transpose(p, int(self.rng.choice(ks))))
                for p, ks in zip(self.pieces, self._shifts, strict=True)
            ]
            # Sort by length with random tie-breaks, cut into batches, shuffle the batches.
            order = np.lexsort((self.rng.random(len(items)), [len(a.pos) for a in items]))
            chunks = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
            chunks = [chunks[i] for i in self.rng.permutation(len(chunks))]
        else:
            items = self._fixed  # type: ignore[assignment]
            chunks = [
                np.arange(i, min(i + self.batch_size, len(items)))
                for i in range(0, len(items), self.batch_size)
            ]
        for idx in chunks:
            batch = [items[i] for i in idx]
            if self.voices == 1:
                yield melody_batch(batch)  # type: ignore[arg-type]
            else:
                yield grid_batch(batch)  # type: ignore[arg-type]
