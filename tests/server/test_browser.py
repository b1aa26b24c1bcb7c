"""The page in a real browser: Debian's headless Chromium driven by Playwright, against uvicorn on loopback.

Types "I love dee", waits for the suggestion "deep", clicks it and checks the text;
submits a review and sees the label the API gives; streams a generation; draws the
forecast chart; saves a screenshot to test-artifacts/server/page.png. Skipped only
when /usr/bin/chromium is missing (``make setup`` installs it; Playwright's own
browser download cannot work without internet).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.helpers import BROWSER_MARKS, chromium_page, live_server, serve_runs

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "server"

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def live_url(app):
    """The app under uvicorn on 127.0.0.1, on a port the OS picked (the socket is bound first: no race)."""

    with live_server(app) as url:
        yield url


def test_the_page_in_chromium(live_url, client):
    expect = pytest.importorskip("playwright.sync_api").expect
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(timeout=20_000, viewport={"width": 1280, "height": 900}) as (page, problems):
        page.set_default_timeout(20_000)
        requested: list[str] = []
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
    assert (ARTIFACTS / "page.png").stat().st_size > 10_000


def test_the_page_picks_among_runs_and_words_errors_plainly(run_dirs, tmp_path):
    """Two runs of one task: the panel offers a run picker and the request names the run picked;
    an empty text reads as a sentence, not pydantic's "String should have at least 1 character"."""
    import shutil

    expect = pytest.importorskip("playwright.sync_api").expect
    second = tmp_path / "sent-b"
    shutil.copytree(run_dirs["sentiment"], second)
    posted: list[str] = []
    with serve_runs([run_dirs["sentiment"], second]) as url, chromium_page(timeout=20_000) as (page, _):
        page.on("request", lambda r: posted.append(r.post_data or "") if r.method == "POST" else None)
        page.goto(url + "/")
        picker = page.locator("#sentiment-section select.run-picker")
        expect(picker).to_have_count(1)
        page.locator("#analyze").click()  # empty text
        expect(page.locator("#sentiment-section .error")).to_have_text("text is empty: type something first.")
        picker.select_option("sent-b")
        page.locator("#review").fill("a great and wonderful film")
        page.locator("#analyze").click()
        expect(page.locator("#sentiment-label")).to_have_text(re.compile(r"\(\d+%\)$"))
    assert '"run":"sent-b"' in posted[-1].replace(" ", "")
