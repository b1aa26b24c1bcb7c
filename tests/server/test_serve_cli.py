"""``rnnkit serve`` in-process: it loads the runs, binds 127.0.0.1 by default, and bad runs exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from rnnkit.cli.main import app

pytestmark = pytest.mark.xdist_group("server")


def test_serve_loads_the_runs_and_binds_loopback_by_default(run_dirs, monkeypatch):
    from rnnkit.cli import serve as serve_cli
    from rnnkit.server.limits import BodyTimeout
    from rnnkit.server.security import HostAndToken

    calls = []
    monkeypatch.setattr(
        serve_cli, "run_server", lambda config, sock: calls.append((config, sock.getsockname()))
    )
    result = CliRunner().invoke(
        app, ["serve", str(run_dirs["sentiment"]), str(run_dirs["lm"]), "--port", "8765"]
    )
    assert result.exit_code == 0, result.output
    config, address = calls[0]
    assert address == ("127.0.0.1", 8765)
    # The app behind its limits: body timeout, then the Host/token check, then rnnkit's routes.
    assert isinstance(config.app, BodyTimeout) and isinstance(config.app.app, HostAndToken)
    assert config.app.app.access.allowed_hosts == ("localhost", "127.0.0.1", "::1")
    assert config.http.header_timeout_s == 10.0 and config.http.max_connections == 100
    served = config.app.app.app
    assert [r.name for r in served.state.registry] == ["sent", "lm"]


@pytest.mark.slow  # a fresh interpreter imports torch: ~5 s
def test_a_missing_run_directory_is_one_line_and_exit_code_2(tmp_path):
    missing = tmp_path / "nope"
    proc = subprocess.run(
        [sys.executable, "-m", "rnnkit.cli.main", "serve", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"error: run directory {str(missing)!r} does not exist: train one first (rnnkit train ...)."
    )


def test_two_runs_with_one_name_are_refused(run_dirs, tmp_path):
    from rnnkit.errors import ConfigError
    from rnnkit.server.registry import Registry, load_run

    run = load_run(run_dirs["lm"])
    with pytest.raises(ConfigError, match="two runs are named 'lm'"):
        Registry([run, run])
