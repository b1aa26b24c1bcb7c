"""The speech task's HTTP route (mounted by ``rnnkit serve``)::

    POST /api/transcribe  {"audio": base64 WAV (or a data: URL), "beam"?, "lm"?, "run"?}
        -> text, decoder, audio_seconds, compute_seconds, real_time_factor

The WAV travels base64 in JSON, so the server's body limit (256 KB) bounds it: about 5 s of
16 kHz mono 16-bit audio, which is what the page sends (it downsamples the microphone before
encoding). Any WAV is accepted (8/16/24/32-bit, float, stereo, any rate); a file that is not a
WAV, holds no samples or is over the run's length limit is a 400 with one sentence.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from rnnkit.tasks.audio.api import AudioRequest, decode_audio
from rnnkit.tasks.serving import ERRORS, Int, ServeContext

MAX_BEAM = 32


class TranscribeRequest(AudioRequest):
    beam: Int | None = Field(
        default=None, ge=0, le=MAX_BEAM, description="Beam width; 0 = greedy; null: the run's."
    )
    lm: bool = Field(default=True, description="Beam search with the word LM / vocabulary constraint.")


class TranscribeResponse(BaseModel):
    run: str
    text: str
    decoder: str
    audio_seconds: float
    compute_seconds: float
    real_time_factor: float


def router(ctx: ServeContext) -> APIRouter:
    api = APIRouter(tags=["speech"])

    @api.post("/api/transcribe", response_model=TranscribeResponse, responses=ERRORS)
    async def transcribe(req: TranscribeRequest) -> TranscribeResponse:
        """Transcribe a WAV recording with a CTC recogniser."""
        run = ctx.get(req.run)
        raw = decode_audio(req.audio)

        def work() -> TranscribeResponse:
            with run.lock:
                t = run.model.transcribe(raw, beam=req.beam, lm=req.lm)
            return TranscribeResponse(run=run.name, **t.to_dict())

        return await ctx.call(work)

    return api
