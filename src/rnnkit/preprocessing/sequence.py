"""``keras.preprocessing.sequence``: ``pad_sequences`` (defined once, in ``rnnkit.data``)."""

from rnnkit.utils.keras_utils import pad_sequences

__all__ = ["pad_sequences"]
