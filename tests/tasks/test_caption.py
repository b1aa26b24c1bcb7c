"""Captioning task: the model's two paths agree, search decodes it, it learns, and the run, CLI,
API and bad inputs behave."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.nn import functional as F

from rnnkit.data.tokenizers import BOS_ID, EOS_ID, PAD_ID
from rnnkit.datasets import images as im
from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks import runs
from rnnkit.tasks.caption.config import CaptionConfig
from rnnkit.tasks.caption.data import encode_captions, make_tokenizer, read_image, to_tensor
from rnnkit.tasks.caption.decode import caption_images
from rnnkit.tasks.caption.evaluate import score_captions
from rnnkit.tasks.caption.model import Captioner, SlotCaptioner, slot_targets

SMALL = {"conv_widths": [8, 16], "units": 32, "embedding_dim": 16, "attention_units": 16, "dropout": 0.0}


def tokens_for(captions: list[str]) -> tuple[object, torch.Tensor]:
    tok = make_tokenizer(captions)
    return tok, encode_captions(tok, captions)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_stepwise_decoding_matches_teacher_forcing(cell: str) -> None:
    model = Captioner(12, image_size=[16, 24], cell=cell, **SMALL).eval()
    x = torch.rand(3, 3, 16, 24)
    toks = torch.randint(4, 12, (3, 5))
    toks[:, 0] = BOS_ID
    logits, alphas = model(x, toks)
    assert logits.shape == (3, 5, 12) and alphas.shape == (3, 5, 8 * 12)
    torch.testing.assert_close(alphas.sum(-1), torch.ones(3, 5))
    state = model.start(x)
    for t in range(5):
        lg, state, alpha = model.step(toks[:, t], state)
        torch.testing.assert_close(lg, logits[:, t])
        torch.testing.assert_close(alpha, alphas[:, t])


def test_no_attention_ablation_attends_uniformly() -> None:
    model = Captioner(10, image_size=[16, 16], attention=False, **SMALL).eval()
    _, alphas = model(torch.rand(2, 3, 16, 16), torch.full((2, 3), BOS_ID))
    torch.testing.assert_close(alphas, torch.full_like(alphas, 1 / 64))


def test_loss_ignores_padding_and_equals_cross_entropy() -> None:
    model = Captioner(10, image_size=[16, 16], **SMALL).eval()
    x = torch.rand(2, 3, 16, 16)
    toks = torch.tensor([[BOS_ID, 5, 6, EOS_ID], [BOS_ID, 7, EOS_ID, PAD_ID]])
    loss, _ = model._loss(x, toks, lambda a: model(*a))
    logits, _ = model(x, toks[:, :-1])
    by_hand = F.cross_entropy(logits[0], toks[0, 1:], reduction="sum") + F.cross_entropy(
        logits[1, :2], toks[1, 1:3], reduction="sum"
    )
    torch.testing.assert_close(loss, by_hand / 5)
    longer = torch.cat([toks, torch.full((2, 3), PAD_ID)], 1)  # more padding changes nothing
    torch.testing.assert_close(model._loss(x, longer, lambda a: model(*a))[0], loss)


def test_greedy_search_equals_an_argmax_loop() -> None:
    tok, _ = tokens_for(["one two three", "three two"])
    model = Captioner(tok.vocab_size, channels=1, image_size=[16, 32], **SMALL)
    imgs = (np.random.default_rng(0).random((3, 16, 32, 1)) * 255).astype(np.uint8)
    greedy = caption_images(model, imgs, tok, beam=1, max_len=6)
    model.eval()
    state = model.start(to_tensor(imgs))
    prev = torch.full((3,), BOS_ID)
    done = torch.zeros(3, dtype=torch.bool)
    words: list[list[str]] = [[], [], []]
    for _ in range(6):
        logits, state, _ = model.step(prev, state)
        prev = logits.argmax(-1)
        for i in range(3):
            if not done[i] and int(prev[i]) != EOS_ID:
                words[i].append(tok.id_to_token(int(prev[i])))
        done |= prev == EOS_ID
    assert [c.words for c in greedy] == words
    for c in greedy:
        assert c.attention is not None and c.attention.shape == (len(c.words), 8, 16)  # one 2x pool


def test_slot_targets_and_baseline_shapes() -> None:
    toks = torch.tensor([[BOS_ID, 5, 6, EOS_ID], [BOS_ID, 7, EOS_ID, PAD_ID]])
    assert slot_targets(toks, 4).tolist() == [[5, 6, 0, 0], [7, 0, 0, 0]]
    model = SlotCaptioner(10, slots=4, image_size=[16, 16], conv_widths=[8, 16], units=16)
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 4, 10)


def test_the_captioner_learns_digit_strips() -> None:
    """A small fit on real digits: it must read 8 strips back (it fails if training is broken)."""
    torch.manual_seed(0)
    pool, labels = im.strip_pools()["train"]
    strips = im.make_strips(pool[:40], labels[:40], 8, seed=0)
    tok, toks = tokens_for(strips.captions)
    model = Captioner(tok.vocab_size, channels=1, image_size=list(im.STRIP_SHAPE), **{**SMALL, "units": 64})
    from rnnkit.models import optimizers

    model.compile(optimizer=optimizers.Adam(learning_rate=1e-2, clipnorm=5.0))
    model.fit(to_tensor(strips.images), toks, batch_size=8, epochs=100, verbose=0, shuffle=False)
    got = [c.text for c in caption_images(model, strips.images, tok, beam=2)]
    scores = score_captions("digits", got, strips)
    assert scores["sequence_accuracy"] >= 0.875, (scores, got[:3], strips.captions[:3])


def test_scores_on_a_hand_checked_pair() -> None:
    split = im.shapes_split(2, seed=1, held_out=None)
    perfect = score_captions("shapes", list(split.captions), split)
    assert perfect["all"]["exact_match"] == 1.0 and perfect["all"]["bleu4"] == 100.0
    assert perfect["all"]["truth_precision"] == 1.0 and perfect["all"]["truth_recall"] == 1.0
    half = score_captions("shapes", [split.captions[0], "nothing at all"], split)
    assert half["all"]["exact_match"] == 0.5 and half["all"]["truth_recall"] < 1.0


# ---------------------------------------------------------------------------- images in
def png(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def test_read_image_converts_modes_and_sizes() -> None:
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 128  # half-transparent red over black
    out = read_image(png(rgba), channels=3, size=(16, 16))
    assert out.shape == (16, 16, 3) and 95 <= out[8, 8, 0] <= 105 and out[8, 8, 1] == 0
    grey = read_image(png(np.full((30, 30), 77, np.uint8)), channels=3, size=(8, 8))
    assert grey.shape == (8, 8, 3) and (grey == 77).all()
    huge = read_image(png(np.zeros((3000, 3000, 3), np.uint8)), channels=1, size=(24, 112))
    assert huge.shape == (24, 112, 1)


def test_read_image_refuses_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is not an image Pillow can read"):
        read_image(b"this is text, not a picture", channels=3, size=None)
    with pytest.raises(DataError, match=r"is empty \(0 bytes\)"):
        read_image(b"", channels=3, size=None)
    with pytest.raises(DataError, match="the limit is 10,485,760"):
        read_image(b"\x89PNG" + b"0" * (10 * 1024 * 1024), channels=3, size=None)
    with pytest.raises(DataError, match="does not exist"):
        read_image(tmp_path / "missing.png", channels=3, size=None)


def test_config_validation_names_the_argument() -> None:
    with pytest.raises(ConfigError, match="model='rnn' is not valid: expected one of 'attention'"):
        CaptionConfig(model="rnn")
    with pytest.raises(ConfigError, match=r"image_size=\[64\] is not valid"):
        CaptionConfig(image_size=[64])
    with pytest.raises(ConfigError, match="conv_widths=\\[\\] is not valid"):
        CaptionConfig(conv_widths=[])


# ---------------------------------------------------------------------------- a whole run
@pytest.fixture(scope="module")
def folder_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A folder of 30 generated scenes with captions.tsv, trained for a few steps."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("cap")
    data = root / "scenes"
    data.mkdir()
    split = im.shapes_split(30, seed=2, held_out=None)
    lines = []
    for i, (img, cap) in enumerate(zip(split.images, split.captions, strict=True)):
        (data / f"{i}.png").write_bytes(png(img))
        lines.append(f"{i}.png\t{cap}")
    (data / "captions.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    from rnnkit.tasks.caption.train import train

    cfg = CaptionConfig(data=str(data), epochs=2, batch_size=8, max_steps=2, beam=2, threads=1, **SMALL)
    train(cfg, runs.TrainOptions(root / "run", quiet=True))
    return root / "run", data


def test_run_directory_and_resume(folder_run: tuple[Path, Path]) -> None:
    run, _ = folder_run
    for name in ("run.json", "model.safetensors", "checkpoint.safetensors", "metrics.json", "history.csv"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "caption" and metrics["kind"] == "custom" and metrics["samples"]["test"] == 3
    assert 0 <= metrics["test"]["exact_match"] <= 1
    assert len((run / "history.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Through rnnkit's entry point: errors become one line on stderr and exit code 2."""
    from rnnkit.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["caption", *args])
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_cli_caption_json_plot_and_errors(
    folder_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, data = folder_run
    plot = tmp_path / "att.png"
    code, out, err = run_cli(
        capsys, str(run), str(data / "0.png"), "--beam", "2", "--json", "--plot", str(plot)
    )
    assert code == 0, err
    payload = json.loads(out)
    assert payload["caption"] == " ".join(payload["words"]) and plot.read_bytes()[:4] == b"\x89PNG"
    assert len(payload["attention"]) == len(payload["words"])
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    other = tmp_path / "other"
    other.mkdir()
    (other / "run.json").write_text(json.dumps({"format": runs.FORMAT, "task": "sentiment", "config": {}}))
    cases = {
        "is not an image Pillow can read": [str(run), str(text)],
        "is empty (0 bytes)": [str(run), str(empty)],
        "holds a 'sentiment' run: expected a 'caption' run": [str(other), str(data / "0.png")],
        "beam=0 is not valid": [str(run), str(data / "0.png"), "--beam", "0"],
    }
    for message, args in cases.items():
        code, out, err = run_cli(capsys, *args)
        assert code == 2, (args, err)
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_api_caption_route(folder_run: tuple[Path, Path]) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from rnnkit.tasks.caption.api import decode_image, router
    from rnnkit.tasks.caption.predictor import CaptionPredictor

    run, _ = folder_run
    predictor = CaptionPredictor.load(run)

    class Loaded:  # the server's loaded run, as the route sees it
        name, task, model, details = "run", "caption", predictor, {}

        import threading

        lock = threading.Lock()

    class Ctx:
        task = "caption"

        def get(self, name: str | None) -> Loaded:
            return Loaded()

        async def call(self, fn, timeout=None):  # type: ignore[no-untyped-def]
            return fn()

    app = FastAPI()
    app.include_router(router(Ctx()))

    @app.exception_handler(DataError)
    async def _bad(request, exc):  # type: ignore[no-untyped-def]
        from fastapi.responses import JSONResponse

        return JSONResponse({"error": str(exc)}, status_code=400)

    client = TestClient(app)
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[10:30, 10:30] = (230, 40, 40, 255)
    b64 = base64.b64encode(png(rgba)).decode()
    res = client.post("/api/caption", json={"image": "data:image/png;base64," + b64, "beam": 2})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["image_size"] == [64, 64] and body["caption"] == " ".join(body["words"])
    assert client.post("/api/caption", json={"image": "###"}).status_code == 400
    assert client.post("/api/caption", json={"image": b64, "beam": 99}).status_code == 422
    bad = client.post("/api/caption", json={"image": base64.b64encode(b"text").decode()})
    assert bad.status_code == 400 and "not an image" in bad.json()["error"]
    with pytest.raises(DataError, match="not valid base64"):
        decode_image("@@@")


def test_composition_recall_separates_held_out_pairs() -> None:
    from rnnkit.tasks.caption.evaluate import composition_recall

    def obj(colour: str, shape: str, size: str, row: int, col: int) -> im.SceneObject:
        return im.SceneObject(colour, shape, size, row, col, 10.0 + 20 * col, 10.0 + 20 * row)

    scene = [
        obj("red", "triangle", "small", 0, 0),
        obj("blue", "circle", "large", 0, 1),
    ]  # red triangle: held out
    right = "a small red triangle to the left of a large blue circle"
    memorised = "a small red circle to the left of a big blue disc"  # says a seen pair instead
    assert composition_recall([right], [scene]) == {
        "recall_held_out_pairs": 1.0,
        "recall_seen_pairs": 1.0,
        "recall_held_out_relations": None,
        "recall_seen_relations": 1.0,
    }
    got = composition_recall([memorised], [scene])
    assert got["recall_held_out_pairs"] == 0.0 and got["recall_seen_pairs"] == 1.0
    assert got["recall_seen_relations"] == 0.0
