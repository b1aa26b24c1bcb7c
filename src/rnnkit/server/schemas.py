"""Request and response bodies of the HTTP API, with their limits.

Every request model forbids unknown fields and checks types strictly (a number is
not a string), so a typo or a wrong type is a 422 naming the field instead of a
silently ignored value. The size limits here are per field; the whole body is
capped by :class:`Limits.max_body_bytes` before it is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

MAX_TEXT_CHARS = 5_000  # one review or one typed message
MAX_BATCH = 64  # texts per batch sentiment request
MAX_SUGGEST_CHARS = 2_000  # the keyboard's text: bounds the per-session state (one snapshot per token)
MAX_TOP_K = 20
MAX_PROMPT_CHARS = 2_000
MAX_GENERATE = 1_000  # tokens per generation request
MAX_SERIES = 10_000  # values per forecast request
MAX_HISTORY = 2_000
# Forecast values beyond this are refused: the scalers and exp() of a log-return model
# overflow long before float64 does, and an overflowed forecast cannot be sent as JSON.
MAX_ABS_VALUE = 1e12


def _whole_number(value: object) -> object:
    # JSON Schema counts 3.0 as an integer (and so do JavaScript clients); strict
    # validation would refuse it. Strings and booleans are still refused.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Int = Annotated[int, BeforeValidator(_whole_number)]

RunName = Annotated[
    str | None,
    Field(
        max_length=200,
        description="Which loaded run answers; default: the only run of this task.",
    ),
]
SessionId = Annotated[
    str | None,
    Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The id a previous suggestion returned; omit it to start a new session.",
    ),
]


@dataclass(frozen=True)
class Limits:
    """Server-wide limits (the per-field ones are the constants above)."""

    max_body_bytes: int = 256 * 1024  # 10_000 floats as JSON is ~200 KB
    max_generations: int = 4  # concurrent streaming generations; more get 429
    request_timeout_s: float = 10.0  # sentiment, suggestions, forecast
    generation_timeout_s: float = 60.0  # a generation stops (and says so) after this
    max_sessions: int = 1_000  # suggestion sessions kept (least recently used go first)
    session_ttl_s: float = 1_800.0  # a session unused this long is dropped


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# ------------------------------------------------------------------ sentiment
class SentimentRequest(_Request):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="The text to classify.")
    run: RunName = None


class SentimentBatchRequest(_Request):
    texts: list[Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS)]] = Field(
        min_length=1, max_length=MAX_BATCH, description="Texts to classify, in order."
    )
    run: RunName = None


class SentimentResult(BaseModel):
    label: str
    probabilities: dict[str, float]


class SentimentResponse(SentimentResult):
    run: str


class SentimentBatchResponse(BaseModel):
    run: str
    predictions: list[SentimentResult]


# ---------------------------------------------------------------- suggestions
class SuggestRequest(_Request):
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


# ----------------------------------------------------------------- generation
class GenerateRequest(_Request):
    prompt: str = Field(default="", max_length=MAX_PROMPT_CHARS)
    length: Int = Field(default=50, ge=1, le=MAX_GENERATE, description="Tokens (words or characters).")
    # Below ~0.01 the scaled logits overflow to inf and sampling breaks down.
    temperature: float = Field(default=1.0, ge=0.01, le=10.0, allow_inf_nan=False)
    top_k: Int | None = Field(default=None, ge=1, le=100_000)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, allow_inf_nan=False)
    seed: Int | None = Field(default=None, ge=0, le=2**32 - 1)
    run: RunName = None


# ------------------------------------------------------------------- forecast
class ForecastRequest(_Request):
    values: list[Annotated[float, Field(allow_inf_nan=False, ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)]] | None = (
        Field(
            default=None,
            max_length=MAX_SERIES,
            description="The series to continue (oldest first); omit it to forecast after the run's data.",
        )
    )
    dates: list[Annotated[str, Field(max_length=40)]] | None = Field(
        default=None, max_length=MAX_SERIES, description="ISO dates of the values (increasing)."
    )
    history: Int = Field(default=120, ge=1, le=MAX_HISTORY, description="Past points returned for a chart.")
    run: RunName = None


class ForecastResponse(BaseModel):
    run: str
    target: str
    level: float = Field(description="Coverage of the central interval, e.g. 0.8.")
    dates: list[str]
    point: list[float]
    lower: list[float]
    upper: list[float]
    history_dates: list[str]
    history: list[float]


# -------------------------------------------------------------------- general
class RunInfo(BaseModel):
    name: str
    task: str
    path: str
    details: dict[str, str | int | float | list[str] | None]


class HealthResponse(BaseModel):
    status: str
    runs: list[RunInfo]
    sessions: int
    generations: int


class ErrorResponse(BaseModel):
    error: str = Field(description="What was wrong, in one sentence.")
    detail: list[dict[str, object]] | None = None
