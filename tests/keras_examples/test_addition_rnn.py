"""keras.io examples/nlp/addition_rnn.py: seq2seq number addition with RepeatVector.

Imports changed to ``import rnnkit as keras; from rnnkit import layers``; the data is
generated as in the example (2 digits instead of 3, 800 questions, 32 units, 6 epochs).
"""

from __future__ import annotations

import numpy as np
import pytest

import rnnkit as keras
from rnnkit import layers


class CharacterTable:
    """The example's one-hot encoder/decoder of characters."""

    def __init__(self, chars):
        self.chars = sorted(set(chars))
        self.char_indices = {c: i for i, c in enumerate(self.chars)}
        self.indices_char = dict(enumerate(self.chars))

    def encode(self, C, num_rows):
        x = np.zeros((num_rows, len(self.chars)))
        for i, c in enumerate(C):
            x[i, self.char_indices[c]] = 1
        return x

    def decode(self, x, calc_argmax=True):
        if calc_argmax:
            x = x.argmax(axis=-1)
        return "".join(self.indices_char[x] for x in x)


def test_addition_rnn():
    if not hasattr(layers, "RepeatVector"):
        pytest.skip("layers.RepeatVector is not there yet")
    keras.set_seed(0)
    rng = np.random.RandomState(0)
    TRAINING_SIZE, DIGITS, REVERSE = 800, 2, True
    MAXLEN = DIGITS + 1 + DIGITS
    chars = "0123456789+ "
    ctable = CharacterTable(chars)
    questions, expected, seen = [], [], set()
    while len(questions) < TRAINING_SIZE:
        a, b = (
            int("".join(rng.choice(list("0123456789")) for _ in range(rng.randint(1, DIGITS + 1))))
            for _ in "ab"
        )
        key = tuple(sorted((a, b)))
        if key in seen:
            if len(seen) >= 4000:  # every 2-digit pair is taken: allow repeats
                seen.clear()
            continue
        seen.add(key)
        q = f"{a}+{b}"
        query = q + " " * (MAXLEN - len(q))
        ans = str(a + b)
        ans += " " * (DIGITS + 1 - len(ans))
        questions.append(query[::-1] if REVERSE else query)
        expected.append(ans)

    x = np.zeros((len(questions), MAXLEN, len(chars)), dtype=np.bool_)
    y = np.zeros((len(questions), DIGITS + 1, len(chars)), dtype=np.bool_)
    for i, sentence in enumerate(questions):
        x[i] = ctable.encode(sentence, MAXLEN)
    for i, sentence in enumerate(expected):
        y[i] = ctable.encode(sentence, DIGITS + 1)
    split_at = len(x) - len(x) // 10
    (x_train, x_val), (y_train, y_val) = (x[:split_at], x[split_at:]), (y[:split_at], y[split_at:])

    model = keras.Sequential()
    model.add(layers.LSTM(32, input_shape=(MAXLEN, len(chars))))
    model.add(layers.RepeatVector(DIGITS + 1))
    model.add(layers.LSTM(32, return_sequences=True))
    model.add(layers.Dense(len(chars), activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.summary(print_fn=lambda line: None)

    first = None
    for _ in range(6):
        h = model.fit(x_train, y_train, batch_size=32, epochs=1, validation_data=(x_val, y_val), verbose=0)
        first = first or h.history["val_loss"][0]
    assert h.history["val_loss"][0] < 0.85 * first
    assert (
        h.history["val_accuracy"][0] > 0.3
    )  # per character (chance 1/12); 0.99 after the example's 30 epochs

    ind = 3
    rowx, rowy = x_val[np.array([ind])], y_val[np.array([ind])]
    preds = np.argmax(model.predict(rowx, verbose=0), axis=-1)
    guess = ctable.decode(preds[0], calc_argmax=False)
    assert len(guess) == DIGITS + 1 and set(guess) <= set(chars)
    assert ctable.decode(rowy[0]).strip().isdigit()
