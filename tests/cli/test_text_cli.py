"""`rnnkit train sentiment|lm`, `predict`, `suggest`, `generate`: small end-to-end runs, in process."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from typer.testing import CliRunner

from rnnkit.cli.main import app, main

runner = CliRunner()

REVIEWS = [("great fantastic loved it", "positive"), ("awful boring dull", "negative")] * 20
CORPUS = "i love deep learning .\nwe love deep networks .\nthey like deeper models .\n" * 30


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("cli")
    csv = root / "reviews.csv"
    csv.write_text("review,sentiment\n" + "\n".join(f"{t},{s}" for t, s in REVIEWS) + "\n")
    (root / "corpus.txt").write_text(CORPUS)
    sent, lm = root / "sent", root / "lm"
    r = runner.invoke(
        app,
        [
            "train",
            "sentiment",
            "--data",
            str(csv),
            "--text-column",
            "review",
            "--label-column",
            "sentiment",
            "--out",
            str(sent),
            "--epochs",
            "2",
            "--max-steps",
            "4",
            "--threads",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "saved" in r.output and "test_accuracy=" in r.output
    r = runner.invoke(
        app,
        [
            "train",
            "lm",
            "--data",
            str(root / "corpus.txt"),
            "--out",
            str(lm),
            "--level",
            "word",
            "--epochs",
            "1",
            "--max-steps",
            "5",
            "--threads",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    return root, sent, lm


def run_main(monkeypatch, capsys, *args):
    """Through main(): RnnkitError -> one line on stderr, exit code 2."""
    monkeypatch.setattr(sys, "argv", ["rnnkit", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err.strip().splitlines()
    return exit_info.value.code, err


def test_predict_text_json_and_file(runs):
    root, sent, _ = runs
    r = runner.invoke(app, ["predict", str(sent), "The movie was fantastic and emotional!"])
    assert r.exit_code == 0, r.output
    assert "negative=" in r.output and "positive=" in r.output
    r = runner.invoke(app, ["predict", str(sent), "great", "--json"])
    payload = json.loads(r.output)
    assert payload[0]["label"] in ("negative", "positive") and set(payload[0]["probabilities"]) == {
        "negative",
        "positive",
    }
    (root / "texts.txt").write_text("great fun\n\nawful\n")
    r = runner.invoke(app, ["predict", str(sent), "--file", str(root / "texts.txt"), "--json"])
    assert [p["text"] for p in json.loads(r.output)] == ["great fun", "awful"]
    # --file - reads standard input
    r = runner.invoke(app, ["predict", str(sent), "--file", "-", "--json"], input="great fun\nzzz qqq\n")
    assert r.exit_code == 0, r.output
    assert [(p["text"], p["known_words"]) for p in json.loads(r.stdout)] == [
        ("great fun", True),
        ("zzz qqq", False),
    ]


def test_suggest_and_generate(runs):
    _, _, lm = runs
    r = runner.invoke(app, ["suggest", str(lm), "I love dee", "--top-k", "3"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].startswith("deep")
    r8 = runner.invoke(app, ["suggest", str(lm), "I love dee", "--top-k", "3", "--int8"])
    assert r8.exit_code == 0, r8.output
    assert r8.output.splitlines()[0].startswith("deep")
    args = [
        "generate",
        str(lm),
        "--prompt",
        "i love",
        "--length",
        "8",
        "--temperature",
        "0.8",
        "--top-k",
        "5",
        "--top-p",
        "0.9",
        "--seed",
        "7",
    ]
    first, second = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert first.output == second.output and first.output.startswith("i love")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["predict", "{sent}", "  "], "error: text is empty: give at least one word."),
        (
            ["suggest", "{lm}", "i love", "--top-k", "0"],
            "error: top_k=0 is not valid: expected an integer >= 1.",
        ),
        (
            ["generate", "{lm}", "--temperature", "-1"],
            "error: temperature=-1.0 is not valid: expected a number >= 0 (0: always the most likely token).",
        ),
        (
            ["suggest", "{sent}", "i love"],
            "error: run directory '{sent}' holds a 'sentiment' run: expected a 'lm' run.",
        ),
        (
            ["predict", "{root}/missing", "good"],
            "error: run directory '{root}/missing' does not exist: train one first (rnnkit train ...).",
        ),
    ],
)
def test_bad_input_is_one_clear_line(runs, monkeypatch, capsys, args, message):
    root, sent, lm = runs
    paths = {"root": root, "sent": sent, "lm": lm}
    code, err = run_main(monkeypatch, capsys, *[a.format(**paths) for a in args])
    assert code == 2
    assert err == [message.format(**paths)]


def test_single_class_labels_is_one_clear_line(runs, monkeypatch, capsys):
    root = runs[0]
    csv = root / "one.csv"
    csv.write_text("text,label\n" + "\n".join(f"good film {i},positive" for i in range(10)) + "\n")
    code, err = run_main(
        monkeypatch, capsys, "train", "sentiment", "--data", str(csv), "--out", str(root / "one"), "--quiet"
    )
    assert code == 2
    assert err == [
        "error: labels have a single class ('positive'): a classifier needs texts of at least two classes."
    ]


def test_evaluate_scores_any_task_on_a_split(runs):
    _, sent, lm = runs
    r = runner.invoke(app, ["evaluate", str(sent), "--split", "test", "--json"])
    assert r.exit_code == 0, r.output
    scores = json.loads(r.stdout)
    assert set(scores) == {"accuracy", "macro_f1"} and 0 <= scores["accuracy"] <= 1
    saved = json.loads((sent / "metrics.json").read_text())
    assert scores["accuracy"] == pytest.approx(saved["test_accuracy"])  # the same split, the same model
    r = runner.invoke(app, ["evaluate", str(lm), "--split", "validation"])
    assert r.exit_code == 0, r.output
    assert "perplexity" in r.stdout
    r = runner.invoke(app, ["evaluate", str(sent), "--split", "dev"])
    assert (
        r.exit_code != 0
        and "split='dev' is not valid: expected one of 'train', 'validation', 'test'." in str(r.exception)
    )
