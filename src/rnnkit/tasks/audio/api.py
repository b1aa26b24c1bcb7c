"""What the audio tasks' routes share: a request carrying a WAV as base64, and its decoding.

The WAV travels base64 in JSON, so the server's body limit (256 KB) bounds it: about 5 s of
16 kHz mono 16-bit audio, which is what the page sends (static/tasks/audio.js downsamples the
microphone before encoding). Any WAV is accepted by the predictors.
"""

from __future__ import annotations

import base64
import binascii

from pydantic import Field

from rnnkit.errors import DataError
from rnnkit.tasks.serving import Request, RunName

MAX_AUDIO_CHARS = 250_000  # base64 of ~185 KB; the server refuses bodies over 256 KB anyway


class AudioRequest(Request):
    audio: str = Field(
        min_length=1,
        max_length=MAX_AUDIO_CHARS,
        description="A WAV file's bytes in base64 (a data: URL is accepted too).",
    )
    run: RunName = None


def decode_audio(text: str) -> bytes:
    """base64 (optionally a ``data:audio/wav;base64,`` URL) -> bytes; bad base64 is a DataError."""
    if text.startswith("data:"):
        _, sep, text = text.partition(",")
        if not sep:
            raise DataError("audio is a data: URL without a comma before its base64 payload.")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DataError("audio is not valid base64: send the WAV file's bytes base64-encoded.") from None
