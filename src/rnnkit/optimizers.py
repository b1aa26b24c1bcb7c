"""``from rnnkit.optimizers import ...`` as in Keras: re-exports :mod:`rnnkit.models.optimizers`."""

from rnnkit.models.optimizers import (
    SGD,
    Adam,
    AdamW,
    Optimizer,
    RMSprop,
    get,
    serialize,
)

__all__ = [
    "Adam",
    "AdamW",
    "Optimizer",
    "RMSprop",
    "SGD",
    "get",
    "serialize",
]
