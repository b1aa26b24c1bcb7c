"""The labs' names and argument checks, without torch (the CLI's help text and validation).

:mod:`rnnkit.labs.memory` maps :data:`CELL_NAMES` to layers and re-exports these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rnnkit.errors import ConfigError, invalid

CELL_NAMES = ("simple", "lstm", "gru")
TASKS = ("adding", "copy")
INITS = {"orthogonal": "orthogonal", "identity": "identity", "glorot": "glorot_uniform"}
MIN_LENGTH = 2


def check_cells(cells: Iterable[str]) -> list[str]:
    """The cell names, validated: non-empty, each one of :data:`CELL_NAMES`."""
    names = [c.strip().lower() for c in cells]
    if not names:
        raise ConfigError(invalid("cells", [], "a non-empty list of " + ", ".join(map(repr, CELL_NAMES))))
    for name in names:
        if name not in CELL_NAMES:
            raise ConfigError(invalid("cell", name, CELL_NAMES))
    return names


def check_length(length: Any, name: str = "length") -> int:
    """A sequence length: an integer >= 2 (a memory task needs a start and an end)."""
    if isinstance(length, bool) or not isinstance(length, int) or length < MIN_LENGTH:
        raise ConfigError(invalid(name, length, f"an integer >= {MIN_LENGTH}"))
    return length


def check_lengths(lengths: Iterable[Any]) -> list[int]:
    values = [check_length(t) for t in lengths]
    if not values:
        raise ConfigError(invalid("lengths", [], f"a non-empty list of integers >= {MIN_LENGTH}"))
    return values


def check_task(task: str) -> str:
    if task not in TASKS:
        raise ConfigError(invalid("task", task, TASKS))
    return task


def check_init(init: str) -> str:
    """A recurrent initializer short name ("orthogonal", "identity", "glorot") -> the Keras name."""
    if init not in INITS:
        raise ConfigError(invalid("init", init, tuple(INITS)))
    return INITS[init]
