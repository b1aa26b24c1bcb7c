"""The commands task's HTTP route (mounted by ``rnnkit serve``)::

    POST /api/recognize  {"audio": base64 WAV (or a data: URL), "run"?}
        -> command, probabilities of every class, compute_seconds

Same audio rules as ``/api/transcribe`` (:mod:`rnnkit.tasks.audio.api`): any WAV, base64 in
JSON, bounded by the server's body limit and the run's length limit.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from rnnkit.tasks.audio.api import AudioRequest, decode_audio
from rnnkit.tasks.serving import ERRORS, ServeContext


class RecognizeResponse(BaseModel):
    run: str
    command: str
    probabilities: dict[str, float]
    compute_seconds: float


def router(ctx: ServeContext) -> APIRouter:
    api = APIRouter(tags=["commands"])

    @api.post("/api/recognize", response_model=RecognizeResponse, responses=ERRORS)
    async def recognize(req: AudioRequest) -> RecognizeResponse:
        """Recognise the spoken command (or _unknown_ / _silence_) in a WAV recording."""
        run = ctx.get(req.run)
        raw = decode_audio(req.audio)

        def work() -> RecognizeResponse:
            with run.lock:
                r = run.model.recognize(raw)
            return RecognizeResponse(run=run.name, **r.to_dict())

        return await ctx.call(work)

    return api
