"""The music tab in Chromium: Compose fills the player with audio the browser can play and
draws the piano roll of the notes the server sent. An untrained four-voice run: this checks
the plumbing from the model to the speaker, not the music."""

from __future__ import annotations

import shutil

import pytest
import torch
from tests.helpers import BROWSER_MARKS, chromium_page, serve_runs

pytestmark = [
    *BROWSER_MARKS,
    pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="needs Debian fluidsynth (the WAV)"),
]


@pytest.fixture(scope="module")
def live_url(tmp_path_factory):
    from rnnkit.tasks import runs
    from rnnkit.tasks.music.config import MusicConfig
    from rnnkit.tasks.music.predictor import _build
    from rnnkit.tasks.music.train import build_model

    out = tmp_path_factory.mktemp("music-web") / "bach4"
    config = MusicConfig(voices=4, units=16, embed_dim=8, num_layers=1)
    run = runs.start_run(
        runs.TrainOptions(out, quiet=True), "music", config, data=runs.fingerprint(config.dataset)
    )
    torch.manual_seed(0)
    model = build_model(config)
    _build(model, 4)
    model.save(run.model_path)
    with serve_runs([out]) as url:
        yield url


def test_compose_gives_playable_audio_and_a_piano_roll(live_url):
    expect = pytest.importorskip("playwright.sync_api").expect
    responses: list[dict] = []
    with chromium_page("--autoplay-policy=no-user-gesture-required", timeout=60_000) as (page, problems):
        page.on("response", lambda r: responses.append(r.json()) if r.url.endswith("/api/compose") else None)
        page.goto(live_url + "/")
        section = page.locator("#music-section")
        expect(section.locator("h2")).to_have_text("Bach chorales")
        section.locator("#music-bars").fill("2")
        section.locator("#music-meter").select_option("3/4")
        section.locator("#music-compose").click()
        expect(section.locator("#music-info")).to_contain_text("four voices, 2 bars in C major, 3/4")
        player = section.locator("#music-player")
        # Playable: the browser decoded the WAV's header (duration known) and can start it.
        page.wait_for_function(
            "() => { const a = document.querySelector('#music-player');"
            " return a.readyState >= 2 && a.error === null && a.duration > 1; }"
        )
        duration = player.evaluate("a => a.duration")
        played = player.evaluate(
            "a => a.play().then(() => new Promise(r => setTimeout(r, 300))).then(() => a.currentTime)"
        )
        rects = section.locator("#music-roll rect").count()
        assert problems == [] and section.locator(".error").inner_text() == ""
    body = responses[-1]
    # 2 bars of 3/4 at 80 per minute = 4.5 s, plus fluidsynth's release tail.
    assert 4.4 < duration < 8 and played > 0
    assert rects == sum(len(v) for v in body["notes"]) and body["wav_error"] is None
