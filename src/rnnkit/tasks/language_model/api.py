"""The language model's HTTP routes (mounted by ``rnnkit serve``)::

POST /api/suggest   {"text", "session"?, "top_k", "run"?} -> next words, completing a partial word
POST /api/generate  {"prompt", "length", "temperature", "top_k", "top_p", "seed", "run"?}
                    -> NDJSON stream: {"token": ...} per token, then {"done": true, ...}
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, field_validator

from rnnkit.tasks.serving import ERRORS, ErrorResponse, Int, Request, RunName, ServeContext

MAX_SUGGEST_CHARS = 2_000  # the keyboard's text: bounds the per-session state (one snapshot per token)
MAX_TOP_K = 20
MAX_PROMPT_CHARS = 2_000
MAX_GENERATE = 1_000  # tokens per generation request

SessionId = Annotated[
    str | None,
    Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The id a previous suggestion returned; omit it to start a new session.",
    ),
]


class SuggestRequest(Request):
    text: str = Field(
        max_length=MAX_SUGGEST_CHARS,
        description="Everything typed so far; a last word with no space after it is completed.",
    )
    top_k: Int = Field(default=3, ge=1, le=MAX_TOP_K)
    session: SessionId = None
    run: RunName = None


class Suggestion(BaseModel):
    word: str
    probability: float


class SuggestResponse(BaseModel):
    run: str
    session: str = Field(description="Send it back with the next keystroke.")
    partial: str = Field(description="The partly typed word the suggestions complete (replace it).")
    steps: int = Field(description="Recurrent steps this keystroke cost (0 inside a word).")
    suggestions: list[Suggestion]


class GenerateRequest(Request):
    prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    length: Int = Field(default=50, ge=1, le=MAX_GENERATE, description="Tokens (words or characters).")
    # 0 is greedy (the most likely token each step); between 0 and 0.01 the scaled logits
    # overflow to inf and sampling breaks down, so those are refused.
    temperature: float = Field(default=1.0, ge=0.0, le=10.0, allow_inf_nan=False)

    @field_validator("temperature")
    @classmethod
    def _greedy_or_sampled(cls, value: float) -> float:
        if 0 < value < 0.01:
            raise ValueError("temperature must be 0 (greedy) or at least 0.01")
        return value

    top_k: Int | None = Field(default=None, ge=1, le=100_000)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, allow_inf_nan=False)
    seed: Int | None = Field(default=None, ge=0, le=2**32 - 1)
    run: RunName = None


def router(ctx: ServeContext) -> APIRouter:
    api = APIRouter(tags=["language model"])

    @api.post("/api/suggest", response_model=SuggestResponse, responses=ERRORS)
    async def suggest(req: SuggestRequest) -> SuggestResponse:
        """Next-word suggestions for the text typed so far.

        Send back the returned ``session`` with each keystroke: the server keeps the
        recurrent state, so a keystroke costs one step (none inside a word).
        """
        run = ctx.get(req.run)

        def work() -> SuggestResponse:
            sid, entry = ctx.sessions.get_or_create(req.session, run.name, run.model.session)
            with entry.lock:
                steps = entry.state.update(req.text)
                found = entry.state.suggest(req.top_k)
                partial = entry.state.partial
            return SuggestResponse(
                run=run.name,
                session=sid,
                partial=partial,
                steps=steps,
                suggestions=[s.to_dict() for s in found],
            )

        return await ctx.call(work)

    @api.post(
        "/api/generate",
        responses={
            200: {
                "description": 'NDJSON: {"token": "..."} per token, then {"done": true, "tokens": n, '
                '"stopped": "length" | "timeout"}.',
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            },
            429: {"model": ErrorResponse, "description": "All generation slots are taken; retry later."},
            **ERRORS,
        },
        response_class=StreamingResponse,
    )
    async def generate(req: GenerateRequest) -> StreamingResponse:
        """Sample text after ``prompt``, streamed one token per line as it is generated."""
        run = ctx.get(req.run)
        slot = ctx.generation_slots.take()
        if slot is None:
            raise HTTPException(
                429, f"{ctx.limits.max_generations} generations are already running: retry in a moment."
            )
        tokens = run.model.iter_generate(
            req.prompt, req.length, req.temperature, req.top_k, req.top_p, req.seed
        )
        try:
            # The first token reads the prompt: its errors are still a plain 4xx, not a broken stream.
            first = await ctx.call(lambda: next(tokens, None))
        except BaseException:
            slot.release()
            raise

        async def stream() -> AsyncIterator[str]:
            deadline = time.monotonic() + ctx.limits.generation_timeout_s
            n, token, stopped = 0, first, "length"
            try:
                while token is not None:
                    n += 1
                    yield json.dumps({"token": token}, ensure_ascii=False) + "\n"
                    if time.monotonic() > deadline:
                        stopped = "timeout"
                        break
                    token = await run_in_threadpool(next, tokens, None)
                yield json.dumps({"done": True, "tokens": n, "stopped": stopped}) + "\n"
            finally:
                # Also runs when the client goes away mid-stream (the generator is closed).
                slot.release()

        return StreamingResponse(stream(), media_type="application/x-ndjson")

    return api
