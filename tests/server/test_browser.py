"""The page in a real browser: Debian's headless Chromium driven by Playwright, against uvicorn on loopback.

Types "I love dee", waits for the suggestion "deep", clicks it and checks the text;
submits a review and sees the label the API gives; streams a generation; draws the
forecast chart; saves a screenshot to test-artifacts/server/page.png. Skipped only
when /usr/bin/chromium is missing (``make setup`` installs it; Playwright's own
browser download cannot work without internet).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest
from tests.helpers import live_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "server"
# The flags the machine's probe used: as root Chromium needs --no-sandbox, and without the
# background-networking ones it keeps trying (and failing) to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.xdist_group("server"),
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (make setup)"
    ),
]


@pytest.fixture(scope="module")
def live_url(app):
    """The app under uvicorn on 127.0.0.1, on a port the OS picked (the socket is bound first: no race)."""

    with live_server(app) as url:
        yield url


def test_the_page_in_chromium(live_url, client):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    expect.set_options(timeout=20_000)  # the shared machine can be slow
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)
            problems: list[str] = []
            requested: list[str] = []
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("request", lambda r: requested.append(r.url))
            page.goto(live_url + "/")
            expect(page.locator("#runs")).to_contain_text("lm (lm)")

            # Keyboard: one keystroke at a time, as a person types.
            box = page.locator("#keyboard")
            box.click()
            box.press_sequentially("I love dee", delay=40)
            deep = page.locator('#suggestions button.suggestion[data-word="deep"]')
            expect(deep).to_be_visible()
            deep.click()
            expect(box).to_have_value("I love deep ")
            # The suggestions now follow "I love deep " (no partial word left).
            expect(page.locator("#suggestions button.suggestion").first).to_be_visible()

            # Sentiment: the label the page shows is the API's.
            review = "the movie was great wonderful and fantastic"
            expected = client.post("/api/sentiment", json={"text": review}).json()["label"]
            page.locator("#review").fill(review)
            page.locator("#analyze").click()
            expect(page.locator("#sentiment-label")).to_have_text(re.compile(rf"^{expected} \(\d+%\)$"))
            expect(page.locator("#sentiment-bars .bar")).to_have_count(2)

            # Generation streams into the box after the prompt.
            page.locator("#seed").fill("7")
            page.locator("#length").fill("15")
            page.locator("#generate").click()
            expect(page.locator("#generated")).to_have_text(re.compile(r"^i love\S* \S+"))
            expect(page.locator("#generate")).to_be_enabled()

            # The forecast chart (drawn on load from the run's data): history, forecast and band.
            for part in ("polyline.history", "polyline.forecast", "polygon.band"):
                expect(page.locator(f"#chart {part}")).to_have_count(1)
            expect(page.locator("#forecast-legend")).to_contain_text("80% interval")

            page.screenshot(path=str(ARTIFACTS / "page.png"), full_page=True)
            assert problems == []
            assert all(url.startswith(live_url) for url in requested), requested  # nothing off loopback
        finally:
            browser.close()
    assert (ARTIFACTS / "page.png").stat().st_size > 10_000


def test_the_page_picks_among_runs_and_words_errors_plainly(run_dirs, tmp_path):
    """Two runs of one task: the panel offers a run picker and the request names the run picked;
    an empty text reads as a sentence, not pydantic's "String should have at least 1 character"."""
    import shutil

    import uvicorn

    from rnnkit.server.app import create_app

    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    expect.set_options(timeout=20_000)
    second = tmp_path / "sent-b"
    shutil.copytree(run_dirs["sentiment"], second)
    app = create_app([run_dirs["sentiment"], second])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    posted: list[str] = []
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.on("request", lambda r: posted.append(r.post_data or "") if r.method == "POST" else None)
                page.goto(f"http://127.0.0.1:{sock.getsockname()[1]}/")
                picker = page.locator("#sentiment-section select.run-picker")
                expect(picker).to_have_count(1)
                page.locator("#analyze").click()  # empty text
                expect(page.locator("#sentiment-section .error")).to_have_text(
                    "text is empty: type something first."
                )
                picker.select_option("sent-b")
                page.locator("#review").fill("a great and wonderful film")
                page.locator("#analyze").click()
                expect(page.locator("#sentiment-label")).to_have_text(re.compile(r"\(\d+%\)$"))
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert '"run":"sent-b"' in posted[-1].replace(" ", "")
