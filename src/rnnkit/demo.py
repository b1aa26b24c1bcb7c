"""``make demo``: the classic Keras example, then a sentiment classifier, on real bundled data.

Part 1 (seconds) is :func:`main`. Part 2 (a few minutes on 2 cores) trains the sentiment
task's BiLSTM on a subset of the bundled IMDB reviews for one epoch (the split keeps its
80/20 proportions), scores it on the held-out part and classifies two sentences: a short
version of ``rnnkit train sentiment --data imdb``, whose full run is in bench/results/.
``python -m rnnkit.demo --quick`` runs part 1 only.

Task: Seattle daily weather, 2012-2015 (vega_datasets, 1,461 days). From the last
14 days of standardized (precipitation, temp_max, temp_min, wind), predict
whether it rains tomorrow (precipitation > 0). Split by time: windows whose
target day falls in the first 80% train (the model's ``validation_split=0.2``
takes the last fifth of those, as Keras does), the last 20% are the held-out
test. Two baselines say what "above chance" means: the majority class of the
training days, and persistence ("it rains tomorrow iff it rained today").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW = 14
FEATURES = ("precipitation", "temp_max", "temp_min", "wind")


@dataclass
class RainData:
    x_train: np.ndarray  # (N, T, F) float32
    y_train: np.ndarray  # (N,) float32 in {0, 1}
    x_test: np.ndarray
    y_test: np.ndarray
    majority_accuracy: float  # the training majority class, scored on the test days
    persistence_accuracy: float  # "rain tomorrow iff rain today", on the test days


def seattle_rain(window: int = WINDOW, train_fraction: float = 0.8) -> RainData:
    """Windows of ``window`` days -> rain on the next day, split by time."""
    from vega_datasets import local_data

    frame = local_data.seattle_weather().sort_values("date")
    values = frame[list(FEATURES)].to_numpy(dtype=np.float64)  # (days, F)
    rain = (frame["precipitation"].to_numpy() > 0).astype(np.float32)  # (days,)
    n_windows = len(values) - window
    split = int(n_windows * train_fraction)
    # Standardize with statistics of the training days only: nothing leaks from the future.
    train_days = values[: split + window - 1]
    mean, std = train_days.mean(axis=0), train_days.std(axis=0)
    z = ((values - mean) / std).astype(np.float32)
    x = np.stack([z[t : t + window] for t in range(n_windows)])  # (N, window, F)
    y = rain[window:]  # day t + window follows window t
    today = rain[window - 1 : -1]  # the last day inside each window
    x_train, y_train, x_test, y_test = x[:split], y[:split], x[split:], y[split:]
    majority = float(y_train.mean() >= 0.5)
    return RainData(
        x_train,
        y_train,
        x_test,
        y_test,
        majority_accuracy=float((y_test == majority).mean()),
        persistence_accuracy=float((today[split:] == y_test).mean()),
    )


def main() -> None:
    """Train the classic example and print its held-out accuracy next to the baselines."""
    from rnnkit import Sequential, layers, set_seed
    from rnnkit.models.progress import write

    set_seed(0)
    data = seattle_rain()
    x, y = data.x_train, data.y_train
    write(
        f"Seattle weather: {len(x)} training windows of {WINDOW} days x {len(FEATURES)} features, "
        f"{len(data.x_test)} held-out test windows."
    )

    # -- the classic example, verbatim ---------------------------------------
    model = Sequential(
        [
            layers.SimpleRNN(64, return_sequences=True),
            layers.SimpleRNN(32),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2)
    # -------------------------------------------------------------------------

    model.summary()
    _, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)  # type: ignore[misc]
    write("")
    write("Will it rain tomorrow? Accuracy on the held-out last 20% of days:")
    write(f"  model (2 x SimpleRNN)              {accuracy:.3f}")
    write(f"  majority class of training days    {data.majority_accuracy:.3f}")
    write(f"  persistence (rain iff rain today)  {data.persistence_accuracy:.3f}")


def sentiment_demo(out: str = "runs/demo-sentiment", samples: int = 6000) -> None:
    """Train the sentiment task briefly on IMDB, then score it and classify two sentences."""
    from rnnkit.models.progress import write
    from rnnkit.tasks.sentiment import SentimentClassifier, SentimentConfig, train_sentiment

    config = SentimentConfig(data="imdb", max_samples=samples, maxlen=200, units=64, epochs=1, seed=0)
    write("")
    write(
        f"IMDB sentiment: Embedding -> BiLSTM({config.units}) -> max+mean pool -> Dense, "
        f"{samples} training reviews, 1 epoch (run directory {out})."
    )
    metrics = train_sentiment(config, out, resume=False, verbose=1)
    write(f"  test accuracy on {metrics['samples']['test']} held-out reviews: {metrics['test_accuracy']:.3f}")
    write(f"  kernels: {', '.join(metrics['kernels'])}")
    clf = SentimentClassifier.load(out)
    for text in ("The movie was fantastic and emotional!", "A dull, predictable mess. I want my money back."):
        pred = clf.predict(text)[0]
        probs = ", ".join(f"{k} {v:.2f}" for k, v in pred.probabilities.items())
        write(f"  {text!r} -> {pred.label} ({probs})")
    write(f'Try: rnnkit predict {out} "Your own review here"')


def run(argv: list[str] | None = None) -> None:
    """``make demo``: part 1, then part 2 unless ``--quick``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m rnnkit.demo", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="only the classic example (seconds)")
    parser.add_argument("--samples", type=int, default=6000, help="IMDB training reviews for part 2")
    args = parser.parse_args(argv)
    main()
    if not args.quick:
        sentiment_demo(samples=args.samples)


if __name__ == "__main__":
    import sys

    run(sys.argv[1:])
