"""rnnkit: recurrent neural networks with Keras's API and semantics on PyTorch.

    from rnnkit import Sequential, layers
    model = Sequential([layers.LSTM(64), layers.Dense(1, activation="sigmoid")])

Every layer is also a plain ``torch.nn.Module``.

The names below are imported when first used (PEP 562), so ``import rnnkit.config`` or
``rnnkit --help`` do not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from rnnkit import layers, losses, metrics, models, optimizers, preprocessing, utils
    from rnnkit.layers import Input, InputLayer
    from rnnkit.models import Model, Sequential, callbacks, load_model
    from rnnkit.utils.seed import set_seed

__version__ = "0.1.0"

# name -> the module that defines it (imported on first use)
_LAZY = {
    "layers": "rnnkit.layers",
    "Input": "rnnkit.layers",
    "InputLayer": "rnnkit.layers",
    "models": "rnnkit.models",
    "utils": "rnnkit.utils",
    "preprocessing": "rnnkit.preprocessing",
    "Model": "rnnkit.models",
    "Sequential": "rnnkit.models",
    "callbacks": "rnnkit.models",
    "load_model": "rnnkit.models",
    "losses": "rnnkit.losses",
    "metrics": "rnnkit.metrics",
    "optimizers": "rnnkit.optimizers",
    "set_seed": "rnnkit.utils.seed",
}

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "Input",
    "InputLayer",
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
    "models",
    "optimizers",
    "preprocessing",
    "set_seed",
    "utils",
]


def __getattr__(name: str) -> Any:
    source = _LAZY.get(name)
    if source is None:
        raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")
    module = importlib.import_module(source)
    value = module if source == f"rnnkit.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
