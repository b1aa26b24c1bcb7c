"""Models and training: ``Sequential``, ``Model``, compile/fit/evaluate/predict, callbacks, saving.

Imports flow core -> kernels -> layers -> models: nothing here is imported by layers.
Losses, metrics and optimizers are defined once, at Keras's paths (``rnnkit.losses`` ...);
``rnnkit.models.losses`` (and ``.metrics``, ``.optimizers``) name the same module objects,
so the older import paths keep working without a second copy.
"""

import sys

from rnnkit import losses, metrics, optimizers
from rnnkit.models import callbacks, keras_format, onnx_export  # noqa: F401 (register .keras/.h5, onnx)
from rnnkit.models.functional import Functional, model_from_json
from rnnkit.models.model import MODELS, Model
from rnnkit.models.plotting import plot_history
from rnnkit.models.saving import load_model
from rnnkit.models.sequential import Sequential

for _mod in (losses, metrics, optimizers):
    sys.modules[f"{__name__}.{_mod.__name__.rsplit('.', 1)[1]}"] = _mod
del _mod

__all__ = [
    "MODELS",
    "Functional",
    "Model",
    "Sequential",
    "callbacks",
    "load_model",
    "losses",
    "metrics",
    "model_from_json",
    "optimizers",
    "plot_history",
]
