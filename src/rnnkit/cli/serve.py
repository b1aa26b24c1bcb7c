"""``rnnkit serve``: the HTTP API and the demo page for trained run directories.

    rnnkit serve runs/sent runs/lm runs/fc [--host 127.0.0.1] [--port 8000]

Binds to 127.0.0.1 unless told otherwise: the API has no authentication.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from rnnkit.errors import ConfigError, MissingDependencyError

logger = logging.getLogger(__name__)


def serve(
    runs: Annotated[
        list[Path],
        typer.Argument(help="Run directories to serve (sentiment, lm, forecast), named by their last part."),
    ],
    host: Annotated[
        str, typer.Option(help="Address to bind; 127.0.0.1 keeps it on this machine (no authentication).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8000,
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
    log_level: Annotated[str, typer.Option(help="uvicorn's log level (info, warning, ...).")] = "info",
    int8: Annotated[
        bool, typer.Option("--int8", help="Language models decode with int8 weights: ~4x faster steps.")
    ] = False,
) -> None:
    """Serve trained runs over HTTP: a JSON API (/docs) and a demo page (/)."""
    try:
        import uvicorn

        from rnnkit.server.app import create_app
        from rnnkit.server.schemas import Limits
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
    torch.set_num_threads(threads)
    limits = Limits(
        max_generations=max_generations,
        max_sessions=max_sessions,
        session_ttl_s=session_ttl,
        request_timeout_s=timeout,
    )
    from rnnkit.server.registry import Registry

    # Loads every run first: a bad directory fails before binding.
    app = create_app(Registry.load(runs, int8=int8), limits)
    if host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning(
            "serving on %s: the API has no authentication, anyone who can reach it can use it", host
        )
    typer.echo(f"serving {', '.join(r.name for r in app.state.registry)} on http://{host}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level=log_level)
