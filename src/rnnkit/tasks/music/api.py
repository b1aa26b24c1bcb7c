"""The music task's HTTP routes (mounted by ``rnnkit serve``)::

    POST /api/compose    {"bars"?, "key"?, "meter"?, "temperature"?, "top_k"?, "top_p"?, "seed"?,
                          "tempo"?, "audio"?, "avoid_parallels"?, "run"?}
    POST /api/harmonize  {"melody": base64 MIDI, "key"?, "temperature"?, ..., "run"?}  (four-voice runs)
        -> key, meter, bars, voices, notes (per voice [[pitch, start, duration], ...] in quarter notes),
           midi (base64), wav (base64 or null) and wav_error (why there is no WAV, or null)

The WAV is rendered with fluidsynth at 22.05 kHz mono, so a 16-bar piece travels as about
2 MB of JSON; without fluidsynth the response still carries the MIDI and says why there is no
audio. Bad input (an unknown key, a file that is not MIDI, a melody outside the soprano
range, a melody model asked to harmonise) is a 400 with one sentence.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from rnnkit.errors import DataError, MissingDependencyError
from rnnkit.tasks.serving import ERRORS, Int, Request, RunName, ServeContext

MAX_BARS = 32  # keeps a request's WAV near 2 MB and its sampling near a few seconds
MAX_MIDI_CHARS = 200_000


class Sampled(Request):
    temperature: float = Field(default=1.0, ge=0, le=5, description="0 = greedy (the most likely choice).")
    top_k: Int | None = Field(default=None, ge=1, le=200)
    top_p: float | None = Field(default=0.95, gt=0, le=1)
    seed: Int = Field(default=0, ge=0, le=2**31 - 1)
    tempo: Int = Field(default=80, ge=20, le=240, description="Quarter notes per minute.")
    audio: bool = Field(default=True, description="Render a WAV with fluidsynth.")
    avoid_parallels: bool = Field(default=True, description="Four voices: no consecutive fifths or octaves.")
    run: RunName = None

    def sampling(self) -> Any:
        from rnnkit.tasks.music.sampling import Sampling

        return Sampling(self.temperature, self.top_k, self.top_p, self.seed, self.avoid_parallels)


class ComposeRequest(Sampled):
    bars: Int = Field(default=8, ge=1, le=MAX_BARS)
    key: str = Field(default="C major", max_length=20, description="e.g. 'G major', 'F# minor'.")
    meter: str = Field(default="4/4", max_length=5, description="e.g. '4/4', '3/4'.")


class HarmonizeRequest(Sampled):
    melody: str = Field(min_length=1, max_length=MAX_MIDI_CHARS, description="A MIDI file's bytes in base64.")
    key: str | None = Field(default=None, max_length=20, description="Default: the file's, else guessed.")


class PieceResponse(BaseModel):
    run: str
    voices: int
    key: str
    meter: str
    bars: float
    tempo: int
    notes: list[list[list[float]]]
    midi: str
    wav: str | None
    wav_error: str | None


def piece_response(run_name: str, piece: Any, audio: bool) -> PieceResponse:
    """The piece as notes for the page's piano roll, MIDI bytes and (when asked) a WAV."""
    from rnnkit.tasks.music import midi
    from rnnkit.tasks.music.theory import REST, bar_length

    notes = []
    for events in piece.voices:
        t, rows = 0.0, []
        for pitch, dur in events:
            if pitch != REST:
                rows.append([float(pitch), t, dur])
            t += dur
        notes.append(rows)
    wav = wav_error = None
    if audio:
        try:
            wav = base64.b64encode(midi.wav_bytes(piece, rate=22050, mono=True)).decode()
        except MissingDependencyError as exc:
            wav_error = str(exc)
    return PieceResponse(
        run=run_name,
        voices=len(piece.voices),
        key=str(piece.key),
        meter=piece.meter,
        bars=round((piece.duration + piece.bar_offset) / bar_length(piece.meter), 2),
        tempo=piece.tempo,
        notes=notes,
        midi=base64.b64encode(midi.midi_bytes(piece)).decode(),
        wav=wav,
        wav_error=wav_error,
    )


def router(ctx: ServeContext) -> APIRouter:
    api = APIRouter(tags=["music"])

    @api.post("/api/compose", response_model=PieceResponse, responses=ERRORS)
    async def compose(req: ComposeRequest) -> PieceResponse:
        """Compose a melody or a four-voice chorale; MIDI and WAV in the response."""
        from rnnkit.tasks.music.theory import Key, bar_length

        run = ctx.get(req.run)
        sampling = req.sampling()
        key = Key.parse(req.key)
        bar_length(req.meter)

        def work() -> PieceResponse:
            with run.lock:
                piece = run.model.compose(bars=req.bars, key=key, meter=req.meter, sampling=sampling)[0]
            piece.tempo = req.tempo
            return piece_response(run.name, piece, req.audio)

        return await ctx.call(work, timeout=ctx.limits.generation_timeout_s)

    @api.post("/api/harmonize", response_model=PieceResponse, responses=ERRORS)
    async def harmonize(req: HarmonizeRequest) -> PieceResponse:
        """Harmonise a melody (a MIDI file): the soprano kept, alto, tenor and bass generated."""
        import tempfile
        from pathlib import Path

        from rnnkit.tasks.music.midi import read_melody
        from rnnkit.tasks.music.theory import Key

        run = ctx.get(req.run)
        sampling = req.sampling()
        key = Key.parse(req.key) if req.key else None
        try:
            raw = base64.b64decode(req.melody, validate=True)
        except (binascii.Error, ValueError):
            raise DataError(
                "melody is not valid base64: send the MIDI file's bytes base64-encoded."
            ) from None

        def work() -> PieceResponse:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "melody.mid"
                path.write_bytes(raw)
                tune = read_melody(path, key=key)
            with run.lock:
                piece = run.model.harmonize(tune, sampling=sampling)[0]
            piece.tempo = req.tempo
            return piece_response(run.name, piece, req.audio)

        return await ctx.call(work, timeout=ctx.limits.generation_timeout_s)

    return api
