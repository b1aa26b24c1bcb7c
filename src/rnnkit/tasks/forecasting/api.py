"""The forecasting task's HTTP route (mounted by ``rnnkit serve``)::

POST /api/forecast  {"values"?, "dates"?, "history", "run"?} -> forecast with its interval
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, Field

from rnnkit.errors import DataError
from rnnkit.tasks.serving import ERRORS, Int, LoadedRunLike, Request, RunName, ServeContext

MAX_SERIES = 10_000  # values per forecast request
MAX_HISTORY = 2_000
# Forecast values beyond this are refused: the scalers and exp() of a log-return model
# overflow long before float64 does, and an overflowed forecast cannot be sent as JSON.
MAX_ABS_VALUE = 1e12


class ForecastRequest(Request):
    values: list[Annotated[float, Field(allow_inf_nan=False, ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)]] | None = (
        Field(
            default=None,
            max_length=MAX_SERIES,
            description="The series to continue (oldest first), with its dates; omit both to forecast "
            "after the run's data.",
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
    warnings: list[str] = Field(
        default_factory=list,
        description="What to know beside the numbers (e.g. inputs far outside training).",
    )


def forecast(run: LoadedRunLike, values: list[float] | None, dates: list[str] | None, history: int) -> Any:
    """The run's forecast after ``values`` (or after its own data); checks the result is finite."""
    from rnnkit.tasks.forecasting.model import load_data

    fc = run.model
    if values is None:
        if dates is not None:
            raise DataError("dates were given without values: send both, or neither for the run's data.")
        # The run's data is read (and cleaned) once, then kept: it does not change while serving.
        series = run.details.get("_series")
        if series is None:
            series = load_data(fc.config)
            run.details["_series"] = series
        result = fc.forecast(series, history=history)
    else:
        parsed = parse_dates(dates, len(values)) if dates is not None else None
        result = fc.forecast_values(values, parsed)
        # forecast_values keeps all values as history; the response carries only the last ``history``.
        result.history = result.history[-history:]
        result.history_dates = result.history_dates[-history:]
    numbers = np.asarray([*result.point, *result.lower, *result.upper, *result.history], dtype=np.float64)
    if not np.isfinite(numbers).all():
        raise DataError(
            "the forecast overflowed for these values: give values on the scale the run was trained on."
        )
    return result


def parse_dates(dates: list[str], n: int) -> list[str]:
    """ISO dates, one per value, increasing, within what pandas can lay out."""
    if len(dates) != n:
        raise DataError(f"dates has {len(dates)} entries but values has {n}: give one date per value.")
    try:
        parsed = np.asarray(dates, dtype="datetime64[s]")
    except (ValueError, OverflowError) as exc:
        raise DataError(f"dates must be ISO dates such as '2024-01-31': {exc}.") from None
    # pandas (which lays out the future dates) holds 1677..2262; keep well inside it.
    lo, hi = np.datetime64("1900-01-01", "s"), np.datetime64("2200-01-01", "s")
    if np.isnat(parsed).any() or (parsed < lo).any() or (parsed > hi).any():
        raise DataError("dates must be ISO dates between 1900 and 2200, such as '2024-01-31'.")
    if n > 1 and not (np.diff(parsed.astype(np.int64)) > 0).all():
        raise DataError("dates must be strictly increasing.")
    return [str(d) for d in parsed]


def router(ctx: ServeContext) -> APIRouter:
    api = APIRouter(tags=["forecasting"])

    @api.post("/api/forecast", response_model=ForecastResponse, responses=ERRORS)
    async def forecast_route(req: ForecastRequest) -> ForecastResponse:
        """Forecast the run's horizon after ``values`` (or after the run's own data), with its interval."""
        run = ctx.get(req.run)

        def work() -> ForecastResponse:
            with run.lock:
                result = forecast(run, req.values, req.dates, req.history)
            return ForecastResponse(run=run.name, **result.to_dict())

        return await ctx.call(work)

    return api
