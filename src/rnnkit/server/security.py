"""Who may talk to ``rnnkit serve``: a Host-header check always, and a token beyond loopback.

- **Host header** (DNS rebinding): a web page on another site can make a browser resolve its
  own name to 127.0.0.1 and then read this server's answers as same-origin. The browser
  still sends that site's name in ``Host``, so every request whose Host is not in the
  allowed list gets 400. Loopback binds allow ``localhost``, ``127.0.0.1`` and ``[::1]``;
  any other bind must name its hosts (``--allowed-hosts``).
- **Token**: a bind other than loopback requires one (``--token`` or ``$RNNKIT_SERVE_TOKEN``,
  at least 16 characters). Requests carry it as ``Authorization: Bearer <token>`` or in the
  ``rnnkit_token`` cookie, which opening ``/?token=<token>`` once sets (HttpOnly,
  SameSite=Strict) before redirecting to ``/``, so the page works in a browser. ``/health``
  stays open (liveness probes carry no secrets; it shows no paths). Tokens are compared in
  constant time (:func:`hmac.compare_digest`).

Refusals are JSON ``{"error": ...}`` like the API's other errors (starlette's
TrustedHostMiddleware answers plain text, hence this small middleware).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from rnnkit.errors import ConfigError, invalid

TOKEN_ENV = "RNNKIT_SERVE_TOKEN"
TOKEN_COOKIE = "rnnkit_token"
MIN_TOKEN_CHARS = 16
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
OPEN_PATHS = ("/health",)


def is_loopback(host: str) -> bool:
    """True for an address (or ``localhost``) that only this machine can reach."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost: it may resolve anywhere


def _host_name(value: str) -> str:
    """The host part of a Host header or list entry, lower-cased: 'a.b:80' -> 'a.b', '[::1]:80' -> '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.index("]")] if "]" in value else value
    if value.count(":") > 1:  # a bare IPv6 address
        return value
    return value.split(":", 1)[0]


@dataclass(frozen=True)
class Access:
    """The access rules of one server: the allowed Host names and the token (None: no token)."""

    allowed_hosts: tuple[str, ...]
    token: str | None = None


def access_for(host: str, token: str | None = None, allowed_hosts: Iterable[str] | None = None) -> Access:
    """The rules for binding ``host``; ConfigError for a bind beyond loopback without a token
    or an allowed-hosts list, or a token that is too short."""
    token = token or os.environ.get(TOKEN_ENV) or None
    hosts = tuple(dict.fromkeys(_host_name(h) for h in allowed_hosts or () if h.strip()))
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            invalid(
                "token",
                "<hidden>",
                f"at least {MIN_TOKEN_CHARS} characters (e.g. from `openssl rand -hex 16`)",
            )
        )
    if not is_loopback(host):
        if token is None:
            raise ConfigError(
                f"host={host!r} is reachable from other machines: give a token with --token or "
                f"${TOKEN_ENV} (at least {MIN_TOKEN_CHARS} characters), or bind 127.0.0.1."
            )
        if not hosts:
            raise ConfigError(
                f"host={host!r} is reachable from other machines: name the host names clients use "
                "with --allowed-hosts (e.g. --allowed-hosts myserver.example.org,192.168.1.5)."
            )
    return Access(allowed_hosts=hosts or LOOPBACK_HOSTS, token=token)


class HostAndToken:
    """ASGI middleware enforcing an :class:`Access` (see the module docstring)."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app, self.access = app, access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the API has none: refuse rather than check
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = _host_name(headers.get("host", ""))
        if host not in self.access.allowed_hosts:
            await _json(send, 400, "the Host header names a host this server does not answer for.")
            return
        token = self.access.token
        if token is None or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if scope["path"] == "/" and _same(query.get("token", [None])[0], token):
            # The page's link: keep the token in a cookie, and drop it from the address bar.
            cookie = f"{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
            await _send(send, 303, b"", [(b"location", b"/"), (b"set-cookie", cookie.encode())])
            return
        offered = _bearer(headers.get("authorization", "")) or _cookie(headers.get("cookie", ""))
        if not _same(offered, token):
            await _json(
                send,
                401,
                "this server needs its token: send 'Authorization: Bearer <token>', "
                "or open /?token=<token> once in a browser.",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        await self.app(scope, receive, send)


def _same(offered: str | None, token: str) -> bool:
    return offered is not None and hmac.compare_digest(offered.encode(), token.encode())


def _bearer(value: str) -> str | None:
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def _cookie(value: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(value)
    except Exception:  # a malformed Cookie header is no token, not an error
        return None
    morsel = jar.get(TOKEN_COOKIE)
    return morsel.value if morsel is not None else None


async def _json(send: Send, status: int, message: str, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": message}).encode()
    await _send(send, status, body, [(b"content-type", b"application/json"), *extra])


async def _send(send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]]) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
