"""``rnnkit serve``: the HTTP API and the demo page for trained run directories.

    rnnkit serve runs/sent runs/lm runs/fc [--host 127.0.0.1] [--port 8000]
    RNNKIT_SERVE_TOKEN=... rnnkit serve runs/lm --host 0.0.0.0 --allowed-hosts myhost.example.org

Binds to 127.0.0.1 unless told otherwise. Every request's Host header must be an allowed
host (DNS rebinding); a bind beyond loopback needs a token and the list of host names
clients use (:mod:`rnnkit.server.security`). Slow and partial clients are timed out and
open connections capped (:mod:`rnnkit.server.limits`). The port is bound before anything
says "serving": a port in use is one line and exit code 2.
"""

from __future__ import annotations

import errno
import logging
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from rnnkit.errors import ConfigError, MissingDependencyError, invalid

logger = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port), not yet listening; ConfigError if the port is taken
    or the address is not this machine's."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ConfigError(
            invalid("host", host, f"an address or name of this machine ({exc.strerror})")
        ) from None
    sock = socket.socket(family, kind, proto)
    # As uvicorn does: a restart may rebind while old connections sit in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use: stop what holds it or pick another with --port."
            ) from None
        raise ConfigError(f"cannot bind {host}:{port}: {exc.strerror or exc}.") from None
    return sock


def run_server(config: Any, sock: socket.socket) -> None:
    """Serve until interrupted on the already bound ``sock`` (tests replace this)."""
    import uvicorn

    uvicorn.Server(config).run(sockets=[sock])


def serve(
    runs: Annotated[
        list[Path],
        typer.Argument(help="Run directories to serve (sentiment, lm, forecast), named by their last part."),
    ],
    host: Annotated[
        str,
        typer.Option(help="Address to bind; anything but loopback needs --token and --allowed-hosts."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="RNNKIT_SERVE_TOKEN",
            show_envvar=True,
            help="Secret clients send as 'Authorization: Bearer <token>' (or open /?token=... once in "
            "a browser); required beyond loopback; prefer the environment variable (ps shows flags).",
        ),
    ] = None,
    allowed_hosts: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated host names clients use (the Host header); others get 400. "
            "Default on loopback: localhost,127.0.0.1,::1; required beyond it."
        ),
    ] = None,
    threads: Annotated[
        int, typer.Option(help="Torch CPU threads (small recurrent models answer fastest with 1).")
    ] = 1,
    max_generations: Annotated[int, typer.Option(help="Generations streamed at once; more get 429.")] = 4,
    max_sessions: Annotated[
        int, typer.Option(help="Suggestion sessions kept (least recently used go).")
    ] = 1000,
    session_ttl: Annotated[float, typer.Option(help="Seconds an idle suggestion session is kept.")] = 1800.0,
    timeout: Annotated[
        float, typer.Option(help="Seconds a sentiment/suggest/forecast request may take.")
    ] = 10.0,
    header_timeout: Annotated[
        float, typer.Option(help="Seconds a client may take to send a request's headers; then 408.")
    ] = 10.0,
    body_timeout: Annotated[
        float, typer.Option(help="Seconds a client may take to send a request's body; then 408.")
    ] = 30.0,
    max_connections: Annotated[int, typer.Option(help="Connections open at once; one more gets 503.")] = 100,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level (info, warning, ...).")] = "info",
    int8: Annotated[
        bool, typer.Option("--int8", help="Language models decode with int8 weights: ~4x faster steps.")
    ] = False,
) -> None:
    """Serve trained runs over HTTP: a JSON API (/docs) and a demo page (/)."""
    try:
        import uvicorn  # noqa: F401  (checked here: the extra may be missing)

        from rnnkit.server.app import create_app
        from rnnkit.server.limits import ConnectionLimits, server_config
        from rnnkit.server.schemas import Limits
        from rnnkit.server.security import HostAndToken, access_for
    except ImportError as exc:
        raise MissingDependencyError(
            f"rnnkit serve needs the serve extra: pip install 'rnnkit[serve]' ({exc})."
        ) from None
    import torch

    for name, value in (
        ("threads", threads),
        ("max_generations", max_generations),
        ("max_sessions", max_sessions),
    ):
        if value < 1:
            raise ConfigError(f"{name}={value} is not valid: expected an integer >= 1.")
    if not 1 <= port <= 65535:
        raise ConfigError(f"port={port} is not valid: expected 1..65535.")
    if timeout <= 0 or session_ttl <= 0:
        raise ConfigError("timeout and session-ttl must be positive numbers of seconds.")
    connection_limits = ConnectionLimits(
        header_timeout_s=header_timeout, body_timeout_s=body_timeout, max_connections=max_connections
    )
    access = access_for(host, token, (allowed_hosts or "").split(","))
    torch.set_num_threads(threads)
    limits = Limits(
        max_generations=max_generations,
        max_sessions=max_sessions,
        session_ttl_s=session_ttl,
        request_timeout_s=timeout,
    )
    from rnnkit.server.registry import Registry

    # The port first (a taken one fails at once), then every run (a bad directory fails
    # before anything is served), then "serving".
    sock = bind(host, port)
    try:
        app = create_app(Registry.load(runs, int8=int8), limits)
        config = server_config(HostAndToken(app, access), connection_limits, log_level=log_level)
        names = ", ".join(r.name for r in app.state.registry)
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"serving {names} on http://{shown}:{port}/")
        if access.token is not None:
            typer.echo(f"clients send the token; a browser opens http://{shown}:{port}/?token=<token> once")
        run_server(config, sock)
    finally:
        sock.close()
