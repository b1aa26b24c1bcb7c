"""The translate tab in Chromium: type a sentence, get the translation, the n-best list and an
attention map whose cells are the server's own weights.

A tiny model trained on a word-for-word toy code (see tests/tasks/test_translation.py), so the
expected translation is known; this checks the page's plumbing, not translation quality.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tests.helpers import BROWSER_MARKS, chromium_page, serve_runs

EN = ["sun", "moon", "star", "tree", "river", "stone", "bird", "fish", "wolf", "horse", "fire", "rain"]
ES = ["sol", "luna", "astro", "arbol", "rio", "piedra", "ave", "pez", "lobo", "caballo", "fuego", "lluvia"]

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def mt_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rnnkit.tasks import runs
    from rnnkit.tasks.translation.config import TranslationConfig
    from rnnkit.tasks.translation.train import train

    root = tmp_path_factory.mktemp("mt-browser")
    rng = random.Random(0)
    lines = ["source\ttarget"]
    for _ in range(600):
        idx = [rng.randrange(len(EN)) for _ in range(rng.randint(2, 5))]
        lines.append(" ".join(EN[i] for i in idx) + "\t" + " ".join(ES[i] for i in idx))
    (root / "pairs.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = TranslationConfig(
        data=str(root / "pairs.tsv"),
        src_vocab=300,
        tgt_vocab=300,
        embed_dim=32,
        units=48,
        dropout=0.0,
        label_smoothing=0.0,
        batch_size=16,
        epochs=7,
        learning_rate=1e-2,
        beam=3,
        threads=1,
        max_eval=5,
    )
    train(config, runs.TrainOptions(out=root / "mt", quiet=True))
    return root / "mt"


@pytest.fixture(scope="module")
def live_url(mt_run: Path):  # type: ignore[no-untyped-def]
    with serve_runs([mt_run]) as url:
        yield url


def test_translate_tab_shows_translation_nbest_and_attention(mt_run: Path, live_url: str) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    from rnnkit.tasks.translation.predictor import Translator

    expected = Translator.load(mt_run).translate("sun fire moon", beam=5, nbest=3, attention=True)[0]
    with chromium_page() as (page, problems):
        page.goto(live_url + "/")
        section = page.locator("#translate-section")
        expect(section.locator("h2")).to_have_text("Translate (English → Spanish)")
        section.locator("#translate-text").fill("sun fire moon")
        section.locator("#translate-nbest").select_option("3")
        section.locator("#translate-go").click()
        expect(section.locator("#translation")).to_have_text(expected[0].text)
        expect(section.locator("#translate-nbest-list li")).to_have_count(3)
        cells = section.locator("table.attention td")
        n_tok, n_src = len(expected[0].tokens), len(expected[0].source_tokens)
        expect(cells).to_have_count(n_tok * n_src)
        shown = [float(w) for w in cells.evaluate_all("cs => cs.map(c => c.dataset.weight)")]
        want = [w for row in expected[0].attention for w in row]
        assert shown == pytest.approx(want, abs=1e-4)  # the server's weights, cell by cell
        # an empty text is refused with the page's message, and the old result cleared
        section.locator("#translate-text").fill("")
        section.locator("#translate-go").click()
        expect(section.locator(".error")).to_have_text("text is empty: type something first.")
        expect(section.locator("#translation")).to_have_text("")
        assert problems == []
