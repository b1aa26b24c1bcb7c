"""The server's own bodies and limits; each task's request/response models live in its api.py.

The size limits of the fields are in the tasks' models; the whole body is capped by
:class:`Limits.max_body_bytes` before it is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from rnnkit.tasks.serving import ErrorResponse  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class Limits:
    """Server-wide limits (the per-field ones are in the tasks' api.py models)."""

    max_body_bytes: int = 256 * 1024  # 10_000 floats as JSON is ~200 KB
    max_generations: int = 4  # concurrent streaming generations; more get 429
    request_timeout_s: float = 10.0  # sentiment, suggestions, forecast
    generation_timeout_s: float = 60.0  # a generation stops (and says so) after this
    max_sessions: int = 1_000  # suggestion sessions kept (least recently used go first)
    session_ttl_s: float = 1_800.0  # a session unused this long is dropped


# -------------------------------------------------------------------- general
class RunInfo(BaseModel):
    # No path: answers never show where the runs live on the server (#20 item 3).
    name: str
    task: str
    details: dict[str, str | int | float | list[str] | None]


class HealthResponse(BaseModel):
    status: str
    runs: list[RunInfo]
    sessions: int
    generations: int


class TaskInfo(BaseModel):
    name: str
    help: str
    page: str | None = Field(description="The page's tab script under /static/tasks/, if any.")
    runs: list[str]
