"""The translation task's HTTP route (mounted by ``rnnkit serve``)::

    POST /api/translate  {"text", "beam"?, "nbest"?, "run"?} -> translations + attention map

Limits: the text is at most 1,000 characters (and the model's ``max_src_len`` subwords), the
beam at most 10 wide; past them the request is refused with one sentence, never truncated.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from rnnkit.tasks.serving import ERRORS, Int, Request, RunName, ServeContext

MAX_TEXT_CHARS = 1_000  # a verse or a paragraph; decoding time grows with the length
MAX_BEAM = 10  # beam search work grows with the width: a public server caps it


class TranslateRequest(Request):
    text: str = Field(
        min_length=1, max_length=MAX_TEXT_CHARS, description="The English sentence to translate."
    )
    beam: Int | None = Field(default=None, ge=1, le=MAX_BEAM, description="Beam width; 1 = greedy.")
    nbest: Int = Field(
        default=1, ge=1, le=MAX_BEAM, description="Translations returned, best first (<= beam)."
    )
    run: RunName = None


class TranslationOut(BaseModel):
    text: str
    score: float = Field(description="Length-normalised log-probability: what the beam ranks by.")
    log_prob: float
    tokens: list[str] = Field(description="The translation's subwords (rows of the attention map).")
    attention: list[list[float]] | None = Field(
        description="Attention weights, one row per translation subword over the source subwords."
    )


class TranslateResponse(BaseModel):
    run: str
    source_tokens: list[str]
    translations: list[TranslationOut]


def router(ctx: ServeContext) -> APIRouter:
    api = APIRouter(tags=["translate"])

    @api.post("/api/translate", response_model=TranslateResponse, responses=ERRORS)
    async def translate(req: TranslateRequest) -> TranslateResponse:
        """The best translation(s) of one sentence, with the attention map of each."""
        run = ctx.get(req.run)

        def work() -> TranslateResponse:
            with run.lock:
                (hyps,) = run.model.translate(req.text, beam=req.beam, nbest=req.nbest, attention=True)
            outs = [
                TranslationOut(**{k: v for k, v in h.to_dict().items() if k != "source_tokens"}) for h in hyps
            ]
            return TranslateResponse(run=run.name, source_tokens=hyps[0].source_tokens, translations=outs)

        return await ctx.call(work)

    return api
