"""The sentiment task's HTTP routes (mounted by ``rnnkit serve``)::

POST /api/sentiment        {"text", "run"?} -> label + probabilities
POST /api/sentiment/batch  {"texts": [...], "run"?} -> one prediction per text
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from rnnkit.tasks.serving import ERRORS, Request, RunName, ServeContext

MAX_TEXT_CHARS = 5_000  # one review or one typed message
MAX_BATCH = 64  # texts per batch request


class SentimentRequest(Request):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="The text to classify.")
    run: RunName = None


class SentimentBatchRequest(Request):
    texts: list[Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]] = Field(
        min_length=1, max_length=MAX_BATCH, description="Texts to classify, in order."
    )
    run: RunName = None


class SentimentResult(BaseModel):
    label: str
    probabilities: dict[str, float]
    known_words: bool = Field(
        description="False when no word of the text is in the model's vocabulary (the label is a guess)."
    )


class SentimentResponse(SentimentResult):
    run: str


class SentimentBatchResponse(BaseModel):
    run: str
    predictions: list[SentimentResult]


def router(ctx: ServeContext) -> APIRouter:
    api = APIRouter(tags=["sentiment"])

    @api.post("/api/sentiment", response_model=SentimentResponse, responses=ERRORS)
    async def sentiment(req: SentimentRequest) -> SentimentResponse:
        """Label and class probabilities of one text."""
        run = ctx.get(req.run)

        def work() -> SentimentResponse:
            with run.lock:
                (p,) = run.model.predict([req.text])
            return SentimentResponse(run=run.name, **p.to_dict())

        return await ctx.call(work)

    @api.post("/api/sentiment/batch", response_model=SentimentBatchResponse, responses=ERRORS)
    async def sentiment_batch(req: SentimentBatchRequest) -> SentimentBatchResponse:
        """Labels and probabilities of several texts, in order."""
        run = ctx.get(req.run)

        def work() -> SentimentBatchResponse:
            with run.lock:
                preds = run.model.predict(req.texts)
            return SentimentBatchResponse(
                run=run.name,
                predictions=[SentimentResult(**p.to_dict()) for p in preds],
            )

        return await ctx.call(work)

    return api
