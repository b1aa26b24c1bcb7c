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
    from rnnkit import layers
    from rnnkit.models import Model, Sequential, callbacks, load_model, losses, metrics, optimizers
    from rnnkit.utils.seed import set_seed

__version__ = "0.1.0"

# name -> the module that defines it (imported on first use)
_LAZY = {
    "layers": "rnnkit.layers",
    "Model": "rnnkit.models",
    "Sequential": "rnnkit.models",
    "callbacks": "rnnkit.models",
    "load_model": "rnnkit.models",
    "losses": "rnnkit.models",
    "metrics": "rnnkit.models",
    "optimizers": "rnnkit.models",
    "set_seed": "rnnkit.utils.seed",
}

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
