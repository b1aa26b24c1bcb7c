"""``make demo``: the classic Keras example on a real bundled dataset.

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


if __name__ == "__main__":
    main()
