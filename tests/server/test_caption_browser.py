"""The caption tab in Chromium: draw on the canvas, upload an RGBA file, read caption and attention.

A tiny run trained for a few steps on generated scenes: this checks the plumbing from the
page to the model and back (what was sent is the drawing or the file; what is shown is the
server's caption of exactly that; one attention figure per word), not caption quality.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.helpers import BROWSER_MARKS, chromium_page, serve_runs

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def caption_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from rnnkit.datasets import images as im
    from rnnkit.tasks import runs
    from rnnkit.tasks.caption.config import CaptionConfig
    from rnnkit.tasks.caption.train import train

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("caption-page")
    data = root / "scenes"
    data.mkdir()
    split = im.shapes_split(20, seed=4, held_out=None)
    lines = []
    for i, (img, cap) in enumerate(zip(split.images, split.captions, strict=True)):
        Image.fromarray(img).save(data / f"{i}.png")
        lines.append(f"{i}.png\t{cap}")
    (data / "captions.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    small = {"conv_widths": [8, 16], "units": 32, "embedding_dim": 16, "attention_units": 16}
    # enough steps that the model says some words (an empty caption would leave nothing to plot)
    cfg = CaptionConfig(data=str(data), epochs=8, batch_size=16, beam=1, max_len=12, threads=1, **small)
    train(cfg, runs.TrainOptions(root / "cap", quiet=True))
    return root / "cap"


@pytest.fixture(scope="module")
def live_url(caption_run: Path):  # type: ignore[no-untyped-def]
    with serve_runs([caption_run]) as url:
        yield url


def sent_image(body: dict) -> bytes:
    return base64.b64decode(body["image"].partition(",")[2])


def test_draw_and_upload_to_caption_with_attention(caption_run: Path, live_url: str, tmp_path: Path) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    from rnnkit.tasks.caption.predictor import CaptionPredictor

    predictor = CaptionPredictor.load(caption_run)
    rgba = np.zeros((90, 90, 4), np.uint8)
    rgba[20:60, 30:70] = (40, 90, 240, 255)  # an opaque blue box on a transparent background
    upload = tmp_path / "box.png"
    Image.fromarray(rgba, mode="RGBA").save(upload)
    bodies: list[dict] = []
    with chromium_page() as (page, problems):
        page.on("request", lambda r: bodies.append(json.loads(r.post_data)) if r.method == "POST" else None)
        page.goto(live_url + "/")
        section = page.locator("#caption-section")
        expect(section.locator("h2")).to_have_text("Image captioning")
        # draw a red stroke on the canvas
        section.locator("#caption-colour").select_option(label="red")
        box = section.locator("#caption-canvas").bounding_box()
        page.mouse.move(box["x"] + 40, box["y"] + 40)
        page.mouse.down()
        page.mouse.move(box["x"] + 90, box["y"] + 60, steps=5)
        page.mouse.up()
        section.locator("#caption-beam").uncheck()
        section.locator("#caption-go").click()
        expect(section.locator("#caption-text")).not_to_be_empty()
        drawn_caption = section.locator("#caption-text").inner_text()
        drawn_figures = section.locator(".caption-word").count()
        # upload a file: the file's own bytes are sent
        section.locator("#caption-file").set_input_files(str(upload))
        section.locator("#caption-beam").check()
        section.locator("#caption-go").click()
        expect(section.locator("#caption-go")).to_be_enabled()
        uploaded_caption = section.locator("#caption-text").inner_text()
        uploaded_figures = section.locator(".caption-word").count()
        assert problems == []
        assert section.locator(".error").inner_text() == ""
    drawn, sent = bodies[0], bodies[-1]
    assert drawn["beam"] == 1 and sent["beam"] == 3
    pixels = np.asarray(Image.open(io.BytesIO(sent_image(drawn))).convert("RGB")).astype(int)
    assert pixels.shape == (256, 256, 3) and (pixels[..., 0] > 150).sum() > 200  # the red stroke
    assert (pixels[0, 0] == 0).all()  # on black
    assert sent_image(sent) == upload.read_bytes()
    expect_drawn = predictor.caption(sent_image(drawn), beam=1)
    expect_upload = predictor.caption(upload.read_bytes(), beam=3)
    assert drawn_caption == (expect_drawn.text or "(empty caption)")
    assert drawn_figures == len(expect_drawn.words)
    assert uploaded_caption == (expect_upload.text or "(empty caption)")
    assert uploaded_figures == len(expect_upload.words)
