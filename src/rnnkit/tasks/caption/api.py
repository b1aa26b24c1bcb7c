"""The captioning task's HTTP route (mounted by ``rnnkit serve``)::

    POST /api/caption  {"image": base64 or a data: URL, "beam"?, "run"?}
        -> caption, words, attention per word over the (h, w) feature grid

Images travel as base64 in JSON, so the server's body limit (256 KB) bounds them; the page
scales a large picture down before sending it. Anything Pillow reads is accepted
(grayscale, RGBA, palette); the image is resized to the model's input size.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter
from pydantic import BaseModel, Field

from rnnkit.errors import DataError
from rnnkit.tasks.serving import ERRORS, Int, Request, RunName, ServeContext

MAX_IMAGE_CHARS = 250_000  # base64 of ~180 KB; the server refuses bodies over 256 KB anyway
MAX_BEAM = 8


class CaptionRequest(Request):
    image: str = Field(
        min_length=1,
        max_length=MAX_IMAGE_CHARS,
        description="The image file's bytes in base64 (a data: URL is accepted too).",
    )
    beam: Int = Field(default=1, ge=1, le=MAX_BEAM, description="Beam width; 1 is greedy search.")
    run: RunName = None


class CaptionResponse(BaseModel):
    run: str
    caption: str
    words: list[str]
    grid: list[int] | None = Field(description="[h, w] of each attention map; null without attention.")
    attention: list[list[list[float]]] | None = Field(description="Per word, an h x w map summing to 1.")
    image_size: list[int] = Field(description="[height, width] the model sees the image at.")


def decode_image(text: str) -> bytes:
    """base64 (optionally a ``data:image/...;base64,`` URL) -> bytes; bad base64 is a DataError."""
    if text.startswith("data:"):
        _, sep, text = text.partition(",")
        if not sep:
            raise DataError("image is a data: URL without a comma before its base64 payload.")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DataError("image is not valid base64: send the file's bytes base64-encoded.") from None


def router(ctx: ServeContext) -> APIRouter:
    api = APIRouter(tags=["caption"])

    @api.post("/api/caption", response_model=CaptionResponse, responses=ERRORS)
    async def caption(req: CaptionRequest) -> CaptionResponse:
        """Describe an image; with attention, where the decoder looked for each word."""
        run = ctx.get(req.run)
        raw = decode_image(req.image)

        def work() -> CaptionResponse:
            with run.lock:
                result = run.model.caption(raw, beam=req.beam)
                size = list(run.model.image_size)
            att = result.attention
            return CaptionResponse(
                run=run.name,
                caption=result.text,
                words=result.words,
                grid=None if att is None else list(att.shape[1:]),
                attention=None if att is None else att.round(4).tolist(),
                image_size=size,
            )

        return await ctx.call(work)

    return api
