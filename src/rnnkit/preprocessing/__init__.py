"""``keras.preprocessing``'s names that recurrent-model code uses, at the paths keras.io examples
import them from: ``preprocessing.timeseries_dataset_from_array``, ``preprocessing.sequence.pad_sequences``
(the functions of :mod:`rnnkit.utils`)."""

from rnnkit.preprocessing import sequence
from rnnkit.utils.keras_utils import pad_sequences, timeseries_dataset_from_array

__all__ = ["pad_sequences", "sequence", "timeseries_dataset_from_array"]
