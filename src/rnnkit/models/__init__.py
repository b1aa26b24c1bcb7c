"""Models and training: ``Sequential``, ``Model``, compile/fit/evaluate/predict, callbacks, saving.

Imports flow core -> kernels -> layers -> models: nothing here is imported by layers.
"""

from rnnkit.models import callbacks, losses, metrics, optimizers
from rnnkit.models.model import MODELS, Model
from rnnkit.models.plotting import plot_history
from rnnkit.models.saving import load_model
from rnnkit.models.sequential import Sequential

__all__ = [
    "MODELS",
    "Model",
    "Sequential",
    "callbacks",
    "load_model",
    "losses",
    "metrics",
    "optimizers",
    "plot_history",
]
