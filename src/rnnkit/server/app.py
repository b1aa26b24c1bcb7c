"""The HTTP API and the demo page: ``create_app(runs) -> FastAPI``. Routes only.

    GET  /                    the page: one panel per loaded task (static/tasks/<task>.js)
    GET  /health              status, loaded runs, live sessions and generations
    GET  /api/runs            the loaded runs and what they hold
    GET  /api/tasks           the loaded tasks: name, help, page script, run names
    ...                       each loaded task's routes, from its ``api.router(ctx)`` (the task
                              registry's ``routes``): /api/sentiment, /api/suggest, /api/generate,
                              /api/forecast, ...

Errors are JSON ``{"error": "<one sentence>"}``: 400 for input a task refuses
(:class:`~rnnkit.errors.RnnkitError`), 404 for an unknown run, 413 for a body over
the limit, 422 for a body that does not match its schema, 429 when the concurrent
generations are all taken, 504 for a request that ran past its timeout.
Model calls run in worker threads, so a slow one never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rnnkit import __version__
from rnnkit.errors import RnnkitError
from rnnkit.server import registry as reg
from rnnkit.server.schemas import HealthResponse, Limits, RunInfo, TaskInfo
from rnnkit.server.sessions import GenerationSlots, SessionStore
from rnnkit.tasks import registry as task_registry
from rnnkit.tasks.serving import ERRORS  # noqa: F401 (the documented error responses)

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
T = TypeVar("T")


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


@dataclass
class TaskContext:
    """One task's view of the server (:class:`rnnkit.tasks.serving.ServeContext`)."""

    task: str
    registry: reg.Registry
    limits: Limits
    sessions: SessionStore
    generation_slots: GenerationSlots

    def get(self, name: str | None) -> reg.LoadedRun:
        return self.registry.get(self.task, name)

    async def call(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        """``fn`` in a worker thread, bounded in time (the thread itself cannot be killed)."""
        timeout = self.limits.request_timeout_s if timeout is None else timeout
        try:
            return await asyncio.wait_for(run_in_threadpool(fn), timeout)
        except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
            raise HTTPException(
                504, f"the request took longer than {timeout:g} s and was abandoned."
            ) from None


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
        description="Recurrent models from rnnkit run directories: "
        + ", ".join(task_registry.get(t).help for t in registry.tasks()),
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

    # ---------------------------------------------------------------- general
    def run_infos() -> list[RunInfo]:
        return [RunInfo(name=r.name, task=r.task, details=reg.public_details(r)) for r in registry]

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
        """The loaded runs: name, task and details (classes, level, horizon ...); never their paths."""
        return run_infos()

    @app.get("/api/tasks", response_model=list[TaskInfo])
    async def list_tasks() -> list[TaskInfo]:
        """The tasks of the loaded runs: name, what it does, its page script, its runs."""
        return [
            TaskInfo(
                name=name,
                help=task_registry.get(name).help,
                page=task_registry.get(name).page,
                runs=[r.name for r in registry if r.task == name],
            )
            for name in registry.tasks()
        ]

    # ------------------------------------------------------------------ tasks
    # Each loaded task mounts its own routes; a task whose api module fails to import stops
    # the server with that error (never a silently missing endpoint).
    for name in registry.tasks():
        make_router = task_registry.get(name).resolve("routes")
        if make_router is not None:
            ctx = TaskContext(name, registry, limits, sessions, slots)
            app.include_router(make_router(ctx))

    return app
