"""`rnnkit serve` against slow, partial and foreign clients (#20 items 2 and 3).

A real uvicorn server on a loopback port runs in a thread with short timeouts, in front of a
tiny app (the limits sit in front of any app); the clients are raw sockets in bounded loops
that stop by themselves."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from rnnkit.cli import serve as serve_cli
from rnnkit.cli.main import main
from rnnkit.errors import ConfigError
from rnnkit.server.limits import ConnectionLimits, server_config
from rnnkit.server.security import TOKEN_ENV, Access, HostAndToken, access_for

pytestmark = pytest.mark.xdist_group("server")

TIMEOUT = 0.6  # header and body timeouts of the test server, seconds
TOKEN = "s3cret-token-0123456789"


def tiny_app() -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/")
    async def page() -> dict:
        return {"page": True}

    @app.post("/echo")
    async def echo(request: Request) -> dict:
        return {"bytes": len(await request.body())}

    return app


@contextlib.contextmanager
def live_server(max_connections: int = 50, access: Access | None = None):
    """A uvicorn server with the serve command's limits on 127.0.0.1; yields its port."""
    import uvicorn

    limits = ConnectionLimits(
        header_timeout_s=TIMEOUT, body_timeout_s=TIMEOUT, max_connections=max_connections
    )
    access = access or access_for("127.0.0.1")
    sock = serve_cli.bind("127.0.0.1", 0)
    server = uvicorn.Server(server_config(HostAndToken(tiny_app(), access), limits, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.settimeout(0.05)
    return s


def closed_by_server(s: socket.socket) -> bytes | None:
    """Everything the server sent, if it has closed the connection; None while it is open."""
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except (TimeoutError, BlockingIOError):
        return None
    except ConnectionResetError:
        return data
    return data


def request(port: int, path: str = "/health", host: str = "localhost", body: bytes | None = None) -> tuple:
    """One complete request; (status, JSON body)."""
    method = "GET" if body is None else "POST"
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
    if body is not None:
        head += f"Content-Length: {len(body)}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head.encode() + b"\r\n" + (body or b""))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head_text, _, payload = data.partition(b"\r\n\r\n")
    return int(head_text.split()[1]), json.loads(payload)


def trickle(s: socket.socket, lines: list[bytes], every: float) -> tuple[int, bytes | None]:
    """Send ``lines`` one per ``every`` seconds, stopping early if the server closes;
    (lines sent, what the server answered before closing or None)."""
    for i, line in enumerate(lines):
        answer = closed_by_server(s)
        if answer is not None:
            return i, answer
        try:
            s.sendall(line)
        except (BrokenPipeError, ConnectionResetError):
            return i, b""
        time.sleep(every)
    return len(lines), closed_by_server(s)


SLOW_HEAD = [b"GET /health HTTP/1.1\r\n", b"Host: localhost\r\n"] + [b"X-Slow: 1\r\n"] * 30


def test_a_client_trickling_headers_is_cut_off_with_408():
    with live_server() as port, connect(port) as s:
        t0 = time.monotonic()
        sent, answer = trickle(s, SLOW_HEAD, every=0.1)  # 3 s if never cut off
        assert answer is not None and sent < len(SLOW_HEAD), "the slow client was never timed out"
        assert time.monotonic() - t0 < TIMEOUT + 1.0
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {
            "error": f"the request headers did not arrive within {TIMEOUT:g} s."
        }


def test_a_connection_that_sends_nothing_is_closed():
    with live_server() as port, connect(port) as s:
        t0 = time.monotonic()
        answer = None
        while answer is None and time.monotonic() - t0 < 3:
            time.sleep(0.05)
            answer = closed_by_server(s)
        assert answer is not None and answer.startswith(b"HTTP/1.1 408 ")


def test_a_body_shorter_than_its_content_length_is_cut_off_with_408():
    with live_server() as port, connect(port) as s:
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n" + b"x" * 10)
        t0 = time.monotonic()
        answer = None
        while answer is None and time.monotonic() - t0 < 3:
            time.sleep(0.05)
            answer = closed_by_server(s)
        assert answer is not None, "the partial body was held open"
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"the request body did not arrive within 0.6 s." in answer


def test_a_slow_second_request_on_a_kept_alive_connection_is_cut_off():
    with live_server() as port, connect(port) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        time.sleep(0.3)
        first = b""
        with contextlib.suppress(TimeoutError):
            first += s.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        time.sleep(TIMEOUT)  # the first request's head timer, had it been kept, would now be spent
        sent, answer = trickle(s, SLOW_HEAD, every=0.1)
        assert answer is not None and sent < len(SLOW_HEAD)
        assert answer.startswith(b"HTTP/1.1 408 ")


def test_others_keep_being_served_while_slow_and_partial_clients_hang_on():
    with live_server() as port:
        slow = [connect(port) for _ in range(6)]
        partial = [connect(port) for _ in range(3)]
        try:
            for s in partial:
                s.sendall(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 500\r\n\r\nabc")
            latencies = []
            t_end = time.monotonic() + 2 * TIMEOUT
            i = 0
            while time.monotonic() < t_end:  # bounded: stops by itself
                for s in slow:
                    with contextlib.suppress(OSError):
                        s.sendall(SLOW_HEAD[min(i, len(SLOW_HEAD) - 1)])
                t0 = time.monotonic()
                assert request(port, "/echo", body=b"y" * 1000) == (200, {"bytes": 1000})
                latencies.append(time.monotonic() - t0)
                i += 1
                time.sleep(0.05)
            assert len(latencies) >= 5 and max(latencies) < 0.5, latencies
            assert all(closed_by_server(s) is not None for s in slow + partial)  # all were cut off
        finally:
            for s in slow + partial:
                s.close()


def test_connections_over_the_cap_get_503_until_slow_ones_are_dropped():
    with live_server(max_connections=3) as port:
        idle = [connect(port) for _ in range(3)]
        try:
            time.sleep(0.1)
            assert request(port) == (503, {"error": "3 connections are open: retry later."})
            time.sleep(TIMEOUT + 0.3)  # the idle ones are timed out, freeing their slots
            assert request(port) == (200, {"status": "ok"})
        finally:
            for s in idle:
                s.close()


# ------------------------------------------------------------------ Host header and token
def guarded(access: Access) -> TestClient:
    return TestClient(HostAndToken(tiny_app(), access), base_url="http://localhost:8000")


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"])
def test_loopback_names_are_answered(host):
    assert guarded(access_for("127.0.0.1")).get("/health", headers={"host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example:8000", "attacker.localhost.example", ""])
def test_a_foreign_host_header_is_refused_dns_rebinding(host):
    r = guarded(access_for("127.0.0.1")).get("/health", headers={"host": host})
    assert r.status_code == 400
    assert r.json() == {"error": "the Host header names a host this server does not answer for."}


def test_binding_beyond_loopback_needs_a_token_and_allowed_hosts(monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(ConfigError) as err:
        access_for("0.0.0.0", allowed_hosts=["box.example"])
    assert str(err.value) == (
        "host='0.0.0.0' is reachable from other machines: give a token with --token or "
        f"${TOKEN_ENV} (at least 16 characters), or bind 127.0.0.1."
    )
    with pytest.raises(ConfigError, match=r"name the host names clients use with --allowed-hosts"):
        access_for("192.168.1.5", token=TOKEN)
    with pytest.raises(ConfigError, match=r"^token='<hidden>' is not valid: expected at least 16"):
        access_for("0.0.0.0", token="short", allowed_hosts=["box.example"])
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    access = access_for("0.0.0.0", allowed_hosts=["Box.Example:8000", " "])
    assert access == Access(allowed_hosts=("box.example",), token=TOKEN)
    assert access_for("::1").allowed_hosts == ("localhost", "127.0.0.1", "::1")


def test_the_token_guards_everything_but_health():
    client = guarded(Access(allowed_hosts=("localhost",), token=TOKEN))
    assert client.get("/health").json() == {"status": "ok"}
    refused = client.post("/echo", content=b"abc")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["error"].startswith("this server needs its token")
    wrong = client.post("/echo", content=b"abc", headers={"authorization": f"Bearer {TOKEN}x"})
    assert wrong.status_code == 401
    ok = client.post("/echo", content=b"abc", headers={"authorization": f"Bearer {TOKEN}"})
    assert ok.json() == {"bytes": 3}


def test_a_browser_trades_the_token_link_for_a_cookie():
    client = guarded(Access(allowed_hosts=("localhost",), token=TOKEN))
    r = client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/").json() == {"page": True}  # the client kept the cookie
    assert TestClient(client.app, base_url="http://localhost").get(f"/?token={TOKEN}x").status_code == 401


# ---------------------------------------------------------------------------- the command
def test_a_port_in_use_is_one_line_and_exit_2_before_serving(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exit_:
            main(["serve", str(tmp_path / "no-run"), "--port", str(port)])
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and "serving" not in out
    assert err == (
        f"error: port {port} on 127.0.0.1 is already in use: "
        "stop what holds it or pick another with --port.\n"
    )


def test_serving_beyond_loopback_without_a_token_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["serve", str(tmp_path / "no-run"), "--host", "0.0.0.0", "--allowed-hosts", "box.example"])
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and out == ""
    assert err.startswith("error: host='0.0.0.0' is reachable from other machines") and err.count("\n") == 1


def test_no_answer_shows_where_the_runs_live(client, run_dirs):
    """/health (open even with a token) and /api/runs name the runs, never their directories."""
    for route in ("/health", "/api/runs"):
        text = client.get(route).text
        assert client.get(route).status_code == 200
        for run in run_dirs.values():
            assert str(run) not in text and str(run.parent) not in text, route
