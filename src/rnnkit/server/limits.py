"""Connection limits for ``rnnkit serve``: slow and partial clients are timed out, and the
number of open connections is capped, so they cannot starve everyone else.

uvicorn bounds the idle time between two requests of a connection (``timeout_keep_alive``),
but not the time a client takes to send a request: a client sending one header line a
second, or declaring ``Content-Length: 100000`` and sending 10 bytes, held its connection
forever. So:

- **headers** (:class:`TimedH11Protocol`): every request's head -- the first one from the
  moment the connection opens, later ones from their first byte -- must be complete within
  ``header_timeout_s``, else the server answers 408 and closes the connection;
- **body** (:class:`BodyTimeout`): the whole body must arrive within ``body_timeout_s`` of
  the route asking for it, else 408 (connection closed);
- **connections** (:class:`TimedH11Protocol` too): at most ``max_connections`` open at once;
  the request on one more gets 503 and the connection is closed. The timeouts above free
  the slots that slow clients hold. (uvicorn's ``limit_concurrency`` answers plain text and
  only once the head has arrived, which a slow client never completes.)

Every refusal is JSON ``{"error": ...}``, as the API's other errors.

:func:`server_config` puts these together for uvicorn.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from rnnkit.errors import ConfigError, invalid


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a client may take, and how many may be connected at once."""

    header_timeout_s: float = 10.0  # a request line and headers: one round trip for any real client
    body_timeout_s: float = 30.0  # the largest body (256 KB) over a slow mobile link
    keep_alive_s: int = 5  # idle seconds between two requests on one connection (uvicorn's default)
    max_connections: int = 100  # open at once; one more gets 503

    def __post_init__(self) -> None:
        for name in ("header_timeout_s", "body_timeout_s", "keep_alive_s"):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(invalid(name, value, "a positive number of seconds"))
        if self.max_connections < 1:
            raise ConfigError(invalid("max_connections", self.max_connections, "an integer >= 1"))


def _raw_json(status: str, message: str) -> bytes:
    """A whole HTTP/1.1 error response, for a client whose request never reached the app."""
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class TimedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline on each request's head and a cap on the
    connections open at once.

    A timer starts when the connection opens, and again when the first bytes of a later
    request arrive; when it fires, a request that has begun since (uvicorn made a new cycle
    for it) is left alone, otherwise the client is sent 408 and disconnected. A connection
    beyond ``max_connections`` answers its first bytes with 503 and closes. Set the class
    attributes on a subclass (:func:`server_config` does).
    """

    header_timeout_s: float = ConnectionLimits.header_timeout_s
    max_connections: int = ConnectionLimits.max_connections

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_cycle: Any = None
        super().connection_made(transport)  # adds this one to the server's connections
        self._over_cap = len(self.connections) > self.max_connections
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if self._over_cap:
            # Answered when its request comes, so the client reads the 503 rather than a reset.
            self.logger.warning("refusing a connection: %d are open", len(self.connections) - 1)
            self.transport.write(
                _raw_json(
                    "503 Service Unavailable", f"{self.max_connections} connections are open: retry later."
                )
            )
            self.transport.close()
            return
        between_requests = self.cycle is None or self.cycle.response_complete
        # A timer from an earlier request (whose head came in time) does not cover this one.
        if between_requests and (self._head_timer is None or self._head_cycle is not self.cycle):
            self._arm_head_timer()
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_cycle = self.cycle  # the cycle before this request: a new one means its head came
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_deadline)

    def _head_deadline(self) -> None:
        self._head_timer = None
        if self.cycle is not self._head_cycle or self.transport.is_closing():
            return  # the head arrived in time (the request runs, or ran), or the client left
        message = f"the request headers did not arrive within {self.header_timeout_s:g} s."
        self.logger.info("closing a connection: %s", message)
        self.transport.write(_raw_json("408 Request Timeout", message))
        self.transport.close()


class BodyTimeout:
    """ASGI middleware: the request body must arrive within ``timeout_s`` of the first read,
    else 408 ``{"error": ...}`` with ``connection: close`` (uvicorn then drops the client).

    The 408 is sent from inside ``receive``, where the wait ends; the app is then told the
    client left (``http.disconnect``), and whatever it does next -- Starlette raises
    ClientDisconnect, its error middleware tries a 500 -- is dropped, as no client is there."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app, self.timeout_s = app, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        body_done = started = timed_out = False

        async def timed_receive() -> Message:
            nonlocal deadline, body_done, timed_out
            if body_done or timed_out:  # after the body, receive() only waits for a disconnect
                return await receive() if not timed_out else {"type": "http.disconnect"}
            if deadline is None:
                deadline = loop.time() + self.timeout_s
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
                timed_out = True
                if not started:
                    await _send_408(send, f"the request body did not arrive within {self.timeout_s:g} s.")
                return {"type": "http.disconnect"}
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if timed_out:
                return  # the 408 went out: nothing else may follow it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, tracking_send)
        except Exception:
            if not timed_out:
                raise


async def _send_408(send: Send, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 408, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def server_config(app: ASGIApp, limits: ConnectionLimits, **uvicorn_kwargs: Any) -> Any:
    """A ``uvicorn.Config`` serving ``app`` (wrapped in :class:`BodyTimeout`) with these limits;
    pass ``log_level`` and the like through ``uvicorn_kwargs``."""
    import uvicorn

    attrs = {"header_timeout_s": limits.header_timeout_s, "max_connections": limits.max_connections}
    return uvicorn.Config(
        BodyTimeout(app, limits.body_timeout_s),
        http=type("TimedH11", (TimedH11Protocol,), attrs),
        timeout_keep_alive=limits.keep_alive_s,
        **uvicorn_kwargs,
    )
