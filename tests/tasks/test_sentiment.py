"""Sentiment task: bucketing, training into a run directory, resume, predict, pinned errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks import runs as rundir
from rnnkit.tasks.sentiment import (
    BucketedBatches,
    SentimentClassifier,
    SentimentConfig,
    load_preset,
    macro_f1,
    train_sentiment,
)

POS = ["great", "wonderful", "fantastic", "loved", "emotional"]
NEG = ["awful", "boring", "terrible", "hated", "dull"]
NEU = ["okay", "average", "fine", "plain", "usual"]


def reviews_csv(path, n=90, classes=("negative", "neutral", "positive")):
    rng = np.random.default_rng(0)
    words = {"negative": NEG, "neutral": NEU, "positive": POS}
    rows = ["text,label"]
    for i in range(n):
        c = classes[i % len(classes)]
        body = " ".join(rng.choice(words[c], size=int(rng.integers(3, 12))))
        rows.append(f'"the movie was {body}",{c}')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def tiny(data, **kw):
    base = dict(data=str(data), embed_dim=16, units=8, epochs=2, batch_size=8, threads=1, learning_rate=0.01)
    return SentimentConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("sent")
    cfg = tiny(reviews_csv(root / "reviews.csv"), epochs=6)
    metrics = train_sentiment(cfg, root / "run")
    return root / "run", metrics


def test_bucketed_training_batches_have_no_padding_and_eval_batches_are_exact():
    seqs = [[5] * n for n in (3, 9, 4, 8, 5, 7)]
    train = BucketedBatches(seqs, np.arange(6), 2, shuffle=True, trim=True)
    assert all((x != 0).all() for x, _ in train)  # trimmed to the shortest: no pad id
    full = BucketedBatches(seqs, np.arange(6), 2, shuffle=False, trim=False)
    assert sum(int((x != 0).sum()) for x, _ in full) == sum(map(len, seqs))


def test_run_directory_holds_everything(trained):
    run, metrics = trained
    for name in (
        "run.json",
        rundir.MODEL_FILE,
        rundir.CHECKPOINT_FILE,
        rundir.TOKENIZER_FILE,
        rundir.METRICS_FILE,
        rundir.HISTORY_FILE,
        rundir.CURVE_FILE,
    ):
        assert (run / name).exists(), name
    assert metrics["classes"] == ["negative", "neutral", "positive"]
    assert json.loads((run / rundir.METRICS_FILE).read_text())["test_accuracy"] == metrics["test_accuracy"]
    assert metrics["test_accuracy"] >= 0.8  # the three vocabularies are disjoint: easy


def test_predict_labels_and_probabilities_and_reload_is_identical(trained):
    run, _ = trained
    clf = SentimentClassifier.load(run)
    preds = clf.predict(
        ["the movie was fantastic and emotional!", "awful boring dull", "okay average fine plain usual"]
    )
    assert [p.label for p in preds] == ["positive", "negative", "neutral"]
    for p in preds:
        assert abs(sum(p.probabilities.values()) - 1) < 1e-5
    again = SentimentClassifier.load(run).probabilities(["awful boring dull"])
    np.testing.assert_array_equal(again, clf.probabilities(["awful boring dull"]))


def test_batch_predict_keeps_input_order(trained):
    run, _ = trained
    clf = SentimentClassifier.load(run)
    texts = ["great " * 9, "awful", "okay fine plain usual average okay"]
    batch = clf.probabilities(texts)
    one_by_one = np.concatenate([clf.probabilities([t]) for t in texts])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-6)  # padding is masked


def test_empty_texts_are_refused_and_unknown_words_flagged(trained):
    clf = SentimentClassifier.load(trained[0])
    with pytest.raises(DataError, match=r"^text is empty: give at least one word\.$"):
        clf.predict("   ")
    with pytest.raises(DataError, match=r"\(text 2\)"):
        clf.predict(["great", ""])
    # Only unknown words: the model still answers (from <unk>), and says no word was known.
    unknown, known = clf.predict(["zzz qqq", "great"])
    assert unknown.known_words is False and known.known_words is True
    assert unknown.label in clf.classes and sum(unknown.probabilities.values()) == pytest.approx(1.0)
    assert unknown.to_dict()["known_words"] is False


def test_single_class_labels_are_refused(tmp_path):
    data = reviews_csv(tmp_path / "one.csv", n=20, classes=("positive",))
    with pytest.raises(
        DataError,
        match=r"^labels have a single class \('positive'\): a classifier needs texts of at least two classes",
    ):
        train_sentiment(tiny(data), tmp_path / "run")


def test_resume_continues_from_the_checkpoint(tmp_path):
    torch.set_num_threads(1)
    data = reviews_csv(tmp_path / "r.csv", n=30)
    train_sentiment(tiny(data, epochs=1), tmp_path / "run")
    metrics = train_sentiment(tiny(data, epochs=2), tmp_path / "run")
    assert metrics["resumed_from_epoch"] == 1
    assert len((tmp_path / "run" / rundir.HISTORY_FILE).read_text().strip().splitlines()) == 3  # header + 2


def test_wrong_task_and_missing_run_directory(tmp_path):
    from rnnkit.tasks.language_model import LMConfig

    rundir.start_run(rundir.TrainOptions(tmp_path / "lm"), "lm", LMConfig())
    with pytest.raises(ConfigError, match=r"holds a 'lm' run: expected a 'sentiment' run\.$"):
        SentimentClassifier.load(tmp_path / "lm")
    with pytest.raises(DataError, match=r"does not exist: train one first"):
        SentimentClassifier.load(tmp_path / "nope")


def test_presets_load_and_unknown_keys_fail(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cfg = load_preset(root / "configs" / "sentiment.toml", SentimentConfig, {"epochs": 1})
    assert cfg.epochs == 1 and cfg.cell == "lstm" and cfg.bidirectional
    bad = tmp_path / "bad.toml"
    bad.write_text("unitz = 3\n")
    with pytest.raises(ConfigError, match=r"^config key='unitz' is not valid"):
        load_preset(bad, SentimentConfig)


def test_macro_f1():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert macro_f1(y, y, 3) == 1.0
    assert macro_f1(y, np.array([0, 0, 1, 1, 1, 1]), 3) == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_rows_with_an_empty_label_or_text_are_dropped_and_counted(tmp_path, caplog):
    """Labels 0/1 plus one '2' and one empty cell trained as ['', '0', '1', '2'] without a word."""
    from rnnkit.data import load_text_classification
    from rnnkit.tasks.sentiment.data import drop_unlabelled

    path = tmp_path / "t.csv"
    path.write_text("text,label\ngood film,1\nbad film,0\nno label here,\n,1\nodd one,2\nfine,1\n")
    table = load_text_classification(path, text_column="text", label_column="label")
    assert "" in table.classes  # the loader keeps the empty cell as a class; the task must not
    with caplog.at_level("WARNING"):
        kept = drop_unlabelled(table, str(path))
    assert kept.classes == ["0", "1", "2"]
    assert kept.texts == ["good film", "bad film", "odd one", "fine"]
    assert [kept.classes[i] for i in kept.labels] == ["1", "0", "2", "1"]
    assert (
        "dropped 2 row(s) with an empty label or text (at lines 4, 5)" in caplog.text
    )  # the header is line 1
