"""rnnkit: recurrent neural networks with Keras's API and semantics on PyTorch.

    from rnnkit import Sequential, layers
    model = Sequential([layers.LSTM(64), layers.Dense(1, activation="sigmoid")])

Every layer is also a plain ``torch.nn.Module``.
"""

from rnnkit import layers
from rnnkit.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    KernelError,
    MissingDependencyError,
    RnnkitError,
    ShapeError,
    TrainingError,
)
from rnnkit.models import Model, Sequential, callbacks, load_model, losses, metrics, optimizers
from rnnkit.utils.seed import set_seed

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "KernelError",
    "MissingDependencyError",
    "Model",
    "RnnkitError",
    "Sequential",
    "ShapeError",
    "TrainingError",
    "__version__",
    "callbacks",
    "layers",
    "load_model",
    "losses",
    "metrics",
    "optimizers",
    "set_seed",
]
