"""Composing and harmonising: step the trained network one note (melody) or one grid step
(four voices) at a time, carrying the recurrent state, and sample.

Every choice goes through :func:`rnnkit.tasks.decoding.filter_logits` (temperature, then
top-k, then top-p), after the logits of notes outside the voice's range (VOICE_RANGES) and
of durations that would run past the requested length are set to -inf. Four voices: with
``avoid_parallels`` (the default) a voice may not move into a fifth or an octave/unison with a
voice already chosen at this step when the two stood at that interval before and move the same
way (the rule the report's ``parallels`` counts; holding a note is always allowed, so a choice
always remains). ``temperature=0``
is greedy decoding: always the most likely choice. Pieces are generated as a batch (one
row per piece) with one ``torch.Generator`` seeded by ``seed``, so a seed gives the same
pieces on every run.

Shapes: B pieces, H units, V voices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rnnkit.errors import ConfigError, invalid
from rnnkit.tasks.decoding import filter_logits
from rnnkit.tasks.music.data import (
    BOS_DUR,
    BOS_PITCH,
    BOS_TOKEN,
    DURATIONS,
    HOLD_ID,
    N_TOKENS,
    REST_ID,
    STEP,
    decode_grid,
    degree,
    grid_tokens,
    left_bucket,
    meter_index,
    position,
)
from rnnkit.tasks.music.model import ChoraleLM, MelodyLM
from rnnkit.tasks.music.theory import REST, VOICE_RANGES, VOICES, Key, Piece, bar_length

Tensor = torch.Tensor


@dataclass(frozen=True)
class Sampling:
    """How to choose: temperature (0 = greedy), top-k, top-p, the seed; four voices: whether
    consecutive fifths and octaves are forbidden."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    seed: int = 0
    avoid_parallels: bool = True

    def __post_init__(self) -> None:
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t >= 0 or math.isinf(t):
            raise ConfigError(
                invalid("temperature", t, "a number >= 0 (0 = greedy: always the most likely note)")
            )
        if self.top_k is not None and (isinstance(self.top_k, bool) or self.top_k < 1):
            raise ConfigError(invalid("top_k", self.top_k, "an integer >= 1 or None"))
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ConfigError(invalid("top_p", self.top_p, "a number in (0, 1] or None"))

    def choose(self, logits: Tensor, generator: torch.Generator) -> Tensor:
        """One index per row of (B, C) logits (rows may hold -inf for forbidden choices)."""
        if self.temperature == 0:
            return logits.argmax(-1)
        rows = [filter_logits(row, self.temperature, self.top_k, self.top_p) for row in logits]
        probs = torch.softmax(torch.stack(rows), dim=-1)
        return torch.multinomial(probs, 1, generator=generator)[:, 0]


def check_bars(bars: int) -> int:
    if isinstance(bars, bool) or not isinstance(bars, int) or bars < 1 or bars > 256:
        raise ConfigError(invalid("bars", bars, "an integer from 1 to 256"))
    return bars


def _range_mask(voice: str, size: int) -> Tensor:
    """(size,) True for allowed classes: pitches in the voice's range, the rest, the hold."""
    lo, hi = VOICE_RANGES[voice]
    ok = torch.zeros(size, dtype=torch.bool)
    ok[lo : hi + 1] = True
    ok[REST_ID] = True
    if size > HOLD_ID:
        ok[HOLD_ID] = True
    return ok


# (1, 128) candidate MIDI pitches 0..127; made once, not per grid step and voice
_PITCHES = torch.arange(REST_ID).unsqueeze(0)


def parallel_mask(v: int, sound: Tensor, sound_in: Tensor) -> Tensor:
    """(B, N_TOKENS) True where voice ``v``'s pitch would make consecutive fifths or octaves.

    With voices ``u < v`` already chosen (``sound``, this step) and the previous step's
    ``sound_in`` (MIDI pitches; ``REST_ID`` or ``BOS_PITCH`` where nothing sounded): pitch ``p``
    is forbidden when ``(prev_u - prev_v) mod 12`` is 0 or 7, ``(now_u - p) mod 12`` equals it,
    and both voices move in the same direction (``(now_u - prev_u)(p - prev_v) > 0``).
    """
    bad = torch.zeros(sound.shape[0], N_TOKENS, dtype=torch.bool)
    prev_v = sound_in[:, v]
    dv = _PITCHES - prev_v.unsqueeze(1)  # (B, 128): voice v's move to each candidate; the same for every u
    for u in range(v):
        prev_u, now_u = sound_in[:, u], sound[:, u]
        sounding = (prev_u < REST_ID) & (prev_v < REST_ID) & (now_u < REST_ID)  # (B,)
        interval = (prev_u - prev_v) % 12
        perfect = sounding & ((interval == 0) | (interval == 7))
        du = (now_u - prev_u).unsqueeze(1)  # (B, 1)
        same_class = (now_u.unsqueeze(1) - _PITCHES) % 12 == interval.unsqueeze(1)
        bad[:, :REST_ID] |= perfect.unsqueeze(1) & same_class & (du * dv > 0)
    return bad


@torch.no_grad()
def compose_melodies(
    model: MelodyLM,
    *,
    n: int,
    bars: int,
    key: Key,
    meter: str,
    sampling: Sampling,
    bar_offset: float = 0.0,
) -> list[Piece]:
    """``n`` soprano lines of ``bars`` bars (the last note is cut at the final bar line)."""
    model.eval()
    total = check_bars(bars) * bar_length(meter) - bar_offset
    gen = torch.Generator().manual_seed(sampling.seed)
    states = model.initial_states(n)
    pitch_in = torch.full((n,), BOS_PITCH)
    dur_in = torch.full((n,), BOS_DUR)
    onset = [0.0] * n
    events: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    key_t, meter_t = torch.full((n,), key.index), torch.full((n,), meter_index(meter))
    allowed = _range_mask("soprano", REST_ID + 1)
    durs = torch.tensor(DURATIONS)
    while any(t < total - 1e-6 for t in onset):
        pos = torch.tensor([position(t, bar_offset, meter) for t in onset])
        left = torch.tensor([left_bucket(total - t) for t in onset])
        deg = torch.tensor([degree(REST if p == REST_ID else int(p), key) for p in pitch_in.tolist()])
        x = model.embed(pitch_in, dur_in, deg, pos, left, key_t, meter_t)  # (B, E)
        h, states = model.step(x, states)  # (B, H)
        logits = model.pitch_head(h).masked_fill(~allowed, float("-inf"))
        pitch = sampling.choose(logits, gen)  # (B,)
        d_logits = model.dur_logits(h, pitch)
        room = torch.tensor([total - t for t in onset]).unsqueeze(1)  # (B, 1)
        fits = durs.unsqueeze(0) <= room + 1e-6
        fits[:, 0] |= ~fits.any(1)  # nothing fits: take the shortest, cut below
        dur = sampling.choose(d_logits.masked_fill(~fits, float("-inf")), gen)
        for i in range(n):
            if onset[i] >= total - 1e-6:
                continue
            d = min(DURATIONS[int(dur[i])], total - onset[i])
            events[i].append((REST if int(pitch[i]) == REST_ID else int(pitch[i]), d))
            onset[i] += d
        pitch_in, dur_in = pitch, dur
    return [Piece([e], meter, bar_offset, key, title="rnnkit melody") for e in events]


@torch.no_grad()
def compose_chorales(
    model: ChoraleLM,
    *,
    n: int,
    bars: int,
    key: Key,
    meter: str,
    sampling: Sampling,
    bar_offset: float = 0.0,
    soprano: Piece | None = None,
) -> list[Piece]:
    """``n`` four-voice pieces; with ``soprano`` (a one-voice Piece) its line is kept and
    alto, tenor and bass are generated under it (harmonisation; ``bars`` is then ignored)."""
    model.eval()
    if soprano is not None:
        fixed, _ = grid_tokens(soprano)
        fixed = torch.from_numpy(fixed[:, 0])  # (T,) the soprano's step tokens
        steps = len(fixed)
        meter, bar_offset, key = soprano.meter, soprano.bar_offset, soprano.key
    else:
        steps = round((check_bars(bars) * bar_length(meter) - bar_offset) / STEP)
    total = steps * STEP
    gen = torch.Generator().manual_seed(sampling.seed)
    states = model.initial_states(n)
    voices = model.voices
    tok_in = torch.full((n, voices), BOS_TOKEN)
    sound_in = torch.full((n, voices), BOS_PITCH)
    key_t, meter_t = torch.full((n,), key.index), torch.full((n,), meter_index(meter))
    masks = [_range_mask(VOICES[v], N_TOKENS) for v in range(voices)]
    out = torch.empty(steps, n, voices, dtype=torch.long)
    for i in range(steps):
        deg = torch.where(sound_in < REST_ID, (sound_in - key.tonic) % 12, 12)
        pos = torch.full((n,), position(i * STEP, bar_offset, meter))
        left = torch.full((n,), left_bucket(total - i * STEP))
        h, states = model.step(model.embed(tok_in, sound_in, deg, pos, left, key_t, meter_t), states)
        tok = torch.zeros(n, voices, dtype=torch.long)
        sound = torch.zeros(n, voices, dtype=torch.long)
        for v in range(voices):
            if soprano is not None and v == 0:
                choice = torch.full((n,), int(fixed[i]))
            else:
                logits = model.voice_logits(v, h, tok, sound).masked_fill(~masks[v], float("-inf"))
                if sampling.avoid_parallels and i > 0:
                    logits = logits.masked_fill(parallel_mask(v, sound, sound_in), float("-inf"))
                if i == 0:  # nothing sounds yet: a voice starts with a note or a rest
                    logits[:, HOLD_ID] = float("-inf")
                choice = sampling.choose(logits, gen)
            tok[:, v] = choice
            held = sound_in[:, v].clamp(max=REST_ID)  # BOS (129) never reaches here: no hold at 0
            sound[:, v] = torch.where(choice == HOLD_ID, held, choice)
        out[i] = tok
        tok_in, sound_in = tok, sound
    pieces = []
    for b in range(n):
        grid = out[:, b].numpy()
        title = "rnnkit harmonisation" if soprano is not None else "rnnkit chorale"
        voices_ev = decode_grid(grid)
        if soprano is not None:
            voices_ev[0] = list(soprano.voices[0])  # exactly the given line, not its grid image
        pieces.append(Piece(voices_ev, meter, bar_offset, key, title=title))
    return pieces
