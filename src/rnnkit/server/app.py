"""The HTTP API and the demo page: ``create_app(runs) -> FastAPI``. Routes only.

    GET  /                    the page (keyboard, sentiment, generation, forecast chart)
    GET  /health              status, loaded runs, live sessions and generations
    GET  /api/runs            the loaded runs and what they hold
    POST /api/sentiment       {"text"} -> label + probabilities
    POST /api/sentiment/batch {"texts": [...]} -> one prediction per text
    POST /api/suggest         {"text", "session"?, "top_k"} -> next words, completing a partial word
    POST /api/generate        {"prompt", "length", "temperature", "top_k", "top_p", "seed"}
                              -> NDJSON stream: {"token": ...} per token, then {"done": true, ...}
    POST /api/forecast        {"values"?, "dates"?, "history"} -> forecast with its interval

Errors are JSON ``{"error": "<one sentence>"}``: 400 for input a task refuses
(:class:`~rnnkit.errors.RnnkitError`), 404 for an unknown run, 413 for a body over
the limit, 422 for a body that does not match its schema, 429 when the concurrent
generations are all taken, 504 for a request that ran past its timeout.
Model calls run in worker threads, so a slow one never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rnnkit import __version__
from rnnkit.errors import RnnkitError
from rnnkit.server import registry as reg
from rnnkit.server.schemas import (
    ErrorResponse,
    ForecastRequest,
    ForecastResponse,
    GenerateRequest,
    HealthResponse,
    Limits,
    RunInfo,
    SentimentBatchRequest,
    SentimentBatchResponse,
    SentimentRequest,
    SentimentResponse,
    SentimentResult,
    SuggestRequest,
    SuggestResponse,
)
from rnnkit.server.sessions import GenerationSlots, SessionStore

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
T = TypeVar("T")

# Documented error responses (the OpenAPI schema lists them for every model route).
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in (
        (400, "The input is valid JSON but the task refuses it (e.g. no known word)."),
        (404, "The run named is not loaded, or no run of this task is."),
        (413, "The request body is over the size limit."),
        (422, "The body does not match the schema (missing field, wrong type, out of range)."),
        (504, "The request ran past its timeout."),
    )
}


def _error(status: int, message: str, detail: list[dict[str, Any]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(body, status_code=status)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, before any route parses them.

    A declared Content-Length is checked at once; a chunked body is read up to the
    limit and replayed, so nothing past the limit is ever held in memory.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = _error(413, f"the request body is over the limit of {self.max_bytes} bytes.")
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                await too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                await too_large(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _validation_message(errors: Sequence[Any]) -> str:
    """The first schema error as one sentence: where, and what was wrong."""
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    if first.get("type") == "missing" and where == "body":
        return "the request body is empty: send a JSON object."
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON."
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}."


def create_app(
    runs: Sequence[str | os.PathLike[str]] | reg.Registry, limits: Limits | None = None
) -> FastAPI:
    """The app for ``runs`` (run directories, or an already loaded :class:`Registry`)."""
    limits = limits or Limits()
    registry = runs if isinstance(runs, reg.Registry) else reg.Registry.load(runs)
    sessions = SessionStore(limits.max_sessions, limits.session_ttl_s)
    slots = GenerationSlots(limits.max_generations)

    app = FastAPI(
        title="rnnkit",
        version=__version__,
        description="Recurrent models from rnnkit run directories: sentiment, suggestions, "
        "generation and forecasts.",
    )
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    app.state.registry, app.state.sessions, app.state.limits = registry, sessions, limits
    app.state.generation_slots = slots

    # ----------------------------------------------------------------- errors
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        # Echoing "input" could return a 5000-character text; the location and message suffice.
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
        return _error(422, _validation_message(errors), detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request refused."
        return _error(exc.status_code, message)

    @app.exception_handler(reg.UnknownRunError)
    async def _unknown_run(request: Request, exc: reg.UnknownRunError) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(RnnkitError)
    async def _refused(request: Request, exc: RnnkitError) -> JSONResponse:
        return _error(400, str(exc))

    async def call(fn: Callable[[], T], timeout: float) -> T:
        """``fn`` in a worker thread, bounded in time (the thread itself cannot be killed)."""
        try:
            return await asyncio.wait_for(run_in_threadpool(fn), timeout)
        except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
            raise HTTPException(
                504, f"the request took longer than {timeout:g} s and was abandoned."
            ) from None

    # ---------------------------------------------------------------- general
    def run_infos() -> list[RunInfo]:
        return [
            RunInfo(name=r.name, task=r.task, path=str(r.path), details=reg.public_details(r))
            for r in registry
        ]

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/health", response_model=HealthResponse)
    async def health() -> HealthResponse:
        """Liveness: the loaded runs and the live sessions and generations."""
        return HealthResponse(status="ok", runs=run_infos(), sessions=len(sessions), generations=slots.used)

    @app.get("/api/runs", response_model=list[RunInfo])
    async def list_runs() -> list[RunInfo]:
        """The loaded runs: name, task, directory and details (classes, level, horizon ...)."""
        return run_infos()

    # -------------------------------------------------------------- sentiment
    @app.post("/api/sentiment", response_model=SentimentResponse, responses=ERRORS)
    async def sentiment(req: SentimentRequest) -> SentimentResponse:
        """Label and class probabilities of one text."""
        run = registry.get("sentiment", req.run)

        def work() -> SentimentResponse:
            with run.lock:
                (p,) = run.model.predict([req.text])
            return SentimentResponse(run=run.name, label=p.label, probabilities=p.probabilities)

        return await call(work, limits.request_timeout_s)

    @app.post("/api/sentiment/batch", response_model=SentimentBatchResponse, responses=ERRORS)
    async def sentiment_batch(req: SentimentBatchRequest) -> SentimentBatchResponse:
        """Labels and probabilities of several texts, in order."""
        run = registry.get("sentiment", req.run)

        def work() -> SentimentBatchResponse:
            with run.lock:
                preds = run.model.predict(req.texts)
            return SentimentBatchResponse(
                run=run.name,
                predictions=[SentimentResult(label=p.label, probabilities=p.probabilities) for p in preds],
            )

        return await call(work, limits.request_timeout_s)

    # ------------------------------------------------------------ suggestions
    @app.post("/api/suggest", response_model=SuggestResponse, responses=ERRORS)
    async def suggest(req: SuggestRequest) -> SuggestResponse:
        """Next-word suggestions for the text typed so far.

        Send back the returned ``session`` with each keystroke: the server keeps the
        recurrent state, so a keystroke costs one step (none inside a word).
        """
        run = registry.get("lm", req.run)

        def work() -> SuggestResponse:
            sid, entry = sessions.get_or_create(req.session, run.name, run.model.session)
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

        return await call(work, limits.request_timeout_s)

    # ------------------------------------------------------------- generation
    @app.post(
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
        run = registry.get("lm", req.run)
        slot = slots.take()
        if slot is None:
            raise HTTPException(
                429, f"{limits.max_generations} generations are already running: retry in a moment."
            )
        tokens = run.model.iter_generate(
            req.prompt, req.length, req.temperature, req.top_k, req.top_p, req.seed
        )
        try:
            # The first token reads the prompt: its errors are still a plain 4xx, not a broken stream.
            first = await call(lambda: next(tokens, None), limits.request_timeout_s)
        except BaseException:
            slot.release()
            raise

        async def stream() -> AsyncIterator[str]:
            deadline = time.monotonic() + limits.generation_timeout_s
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

    # --------------------------------------------------------------- forecast
    @app.post("/api/forecast", response_model=ForecastResponse, responses=ERRORS)
    async def forecast(req: ForecastRequest) -> ForecastResponse:
        """Forecast the run's horizon after ``values`` (or after the run's own data), with its interval."""
        run = registry.get("forecast", req.run)

        def work() -> ForecastResponse:
            with run.lock:
                result = reg.forecast(run, req.values, req.dates, req.history)
            return ForecastResponse(run=run.name, **result.to_dict())

        return await call(work, limits.request_timeout_s)

    return app
