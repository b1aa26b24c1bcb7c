"""Seeding for reproducible runs: identical seeds give identical histories on CPU."""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

from rnnkit.errors import ConfigError, invalid


def set_seed(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every CUDA device).

    ``deterministic=True`` also asks torch for deterministic kernels (slower on GPU);
    CPU runs are already deterministic for a fixed thread count.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(invalid("seed", seed, "a non-negative integer"))
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds CUDA too
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses (e.g. DataLoader workers)
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


def get_rng_state() -> dict[str, Any]:
    """Every random generator's state, to save in a checkpoint and resume bit-identically."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` returned."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
