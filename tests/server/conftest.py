"""Tiny trained runs (sentiment, word LM, forecast) built once per test session, and an app over them.

Trained through the tasks' Python API for a few steps on small data: the server tests
check plumbing and limits, not model quality, but the LM must still learn that "dee"
completes to "deep" for the browser test.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

SENTIMENT_WORDS = {
    "negative": ["awful", "boring", "terrible", "hated", "dull"],
    "positive": ["great", "wonderful", "fantastic", "loved", "moving"],
}
LM_CORPUS = (
    "i love deep learning .\nwe love deep networks .\nthey like deeper models .\n"
    "i love the deep sea .\nyou love dogs and cats .\n"
) * 20


def _sentiment_csv(path: Path, n: int = 80) -> Path:
    rng = np.random.default_rng(0)
    rows = ["text,label"]
    for i in range(n):
        label = "positive" if i % 2 else "negative"
        body = " ".join(rng.choice(SENTIMENT_WORDS[label], size=int(rng.integers(3, 9))))
        rows.append(f'"the movie was {body}",{label}')
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _series_csv(path: Path, n: int = 240) -> Path:
    t = np.arange(n)
    y = 20 + 0.02 * t + 3 * np.sin(2 * np.pi * t / 7) + np.random.default_rng(0).normal(0, 0.3, n)
    dates = np.datetime64("2023-01-01") + t.astype("timedelta64[D]")
    lines = ["date,y", *(f"{d},{v:.4f}" for d, v in zip(dates, y, strict=True))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def build_runs(root: Path) -> dict[str, Path]:
    """Train the three tiny runs under ``root``; returns {task: run directory}."""
    from rnnkit.tasks.forecasting import ForecastConfig
    from rnnkit.tasks.forecasting import train as train_forecast
    from rnnkit.tasks.language_model import LMConfig, train_lm
    from rnnkit.tasks.sentiment import SentimentConfig, train_sentiment

    torch.set_num_threads(1)
    root.mkdir(parents=True, exist_ok=True)
    sent = SentimentConfig(
        data=str(_sentiment_csv(root / "reviews.csv")),
        embed_dim=16,
        units=8,
        epochs=4,
        batch_size=8,
        learning_rate=0.02,
        threads=1,
    )
    train_sentiment(sent, root / "sent")
    (root / "corpus.txt").write_text(LM_CORPUS, encoding="utf-8")
    lm = LMConfig(
        data=str(root / "corpus.txt"),
        level="word",
        embed_dim=16,
        units=24,
        num_layers=1,
        dropout=0.0,
        batch_size=4,
        bptt=10,
        learning_rate=0.02,
        threads=1,
        max_steps=40,
        epochs=2,
    )
    train_lm(lm, root / "lm")
    fc = ForecastConfig.from_dict(
        {
            "data": str(_series_csv(root / "series.csv")),
            "target": "y",
            "horizon": 7,
            "lookback": 14,
            "units": 8,
            "epochs": 3,
            "batch_size": 32,
            "baselines": ["naive"],
        }
    )
    train_forecast(fc, root / "fc")
    return {"sentiment": root / "sent", "lm": root / "lm", "forecast": root / "fc"}


@pytest.fixture(scope="session")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    t0 = time.perf_counter()
    runs = build_runs(tmp_path_factory.mktemp("serve-runs"))
    print(f"tiny runs trained in {time.perf_counter() - t0:.1f} s")  # shown with -s: fixture cost
    return runs


@pytest.fixture(scope="session")
def app(run_dirs: dict[str, Path]):
    from rnnkit.server.app import create_app

    return create_app([run_dirs["sentiment"], run_dirs["lm"], run_dirs["forecast"]])


@pytest.fixture(scope="session")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c
