"""What a task's ``api.py`` builds its routes from: the server's context and shared request pieces.

``rnnkit serve`` calls each loaded task's ``router(ctx)`` (the registry's ``routes``) with a
:class:`ServeContext`; the task declares its request/response models with the pieces below::

    def router(ctx: ServeContext) -> APIRouter:
        api = APIRouter()

        @api.post("/api/translate", response_model=TranslateResponse, responses=ERRORS)
        async def translate(req: TranslateRequest) -> TranslateResponse:
            run = ctx.get(req.run)  # 404 / 400 for an unknown or foreign run
            def work() -> TranslateResponse:
                with run.lock:
                    return TranslateResponse(run=run.name, text=run.model.translate(req.text))
            return await ctx.call(work)  # a worker thread, bounded by the request timeout

        return api

Errors: raise :class:`rnnkit.errors.RnnkitError` subclasses for input the task refuses (400,
``{"error": "<one sentence>"}``); schema mismatches are 422; both are handled by the server.
Tasks never import :mod:`rnnkit.server` (imports flow tasks -> server).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

T = TypeVar("T")


class LoadedRunLike(Protocol):
    """A loaded run as the server holds it."""

    name: str  # the run directory's last part: the requests' "run" field
    task: str
    model: Any  # the task's predictor (Task.predictor.load(run_dir))
    details: dict[str, Any]
    lock: Any  # a threading.Lock: hold it while the predictor works if it is not thread-safe


class ServeContext(Protocol):
    """The server, as one task's routes see it."""

    task: str
    limits: Any  # rnnkit.server.schemas.Limits: request_timeout_s, generation_timeout_s, max_generations ...
    sessions: Any  # rnnkit.server.sessions.SessionStore (per-user decoder states, LRU + TTL)
    generation_slots: Any  # rnnkit.server.sessions.GenerationSlots (bounded concurrent streams)

    def get(self, name: str | None) -> LoadedRunLike:
        """The run ``name`` of this task (or the only one when None); 404/400 otherwise."""
        ...

    async def call(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        """``fn()`` in a worker thread, abandoned with 504 after ``timeout`` (default: request timeout)."""
        ...


def _whole_number(value: object) -> object:
    # JSON Schema counts 3.0 as an integer (and so do JavaScript clients); strict
    # validation would refuse it. Strings and booleans are still refused.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Int = Annotated[int, BeforeValidator(_whole_number)]

RunName = Annotated[
    str | None,
    Field(max_length=200, description="Which loaded run answers; default: the only run of this task."),
]


class Request(BaseModel):
    """Base of request bodies: unknown fields and wrong types are 422s, never silently ignored."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ErrorResponse(BaseModel):
    error: str = Field(description="What was wrong, in one sentence.")
    detail: list[dict[str, object]] | None = None


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
