"""``keras.preprocessing``'s names that recurrent-model code uses (``timeseries_dataset_from_array``,
``pad_sequences``): the functions of :mod:`rnnkit.utils`, at the path keras.io examples import."""

from rnnkit.utils.keras_utils import pad_sequences, timeseries_dataset_from_array

__all__ = ["pad_sequences", "timeseries_dataset_from_array"]
