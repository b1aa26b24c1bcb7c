"""keras.io's recurrent examples, run with only their imports changed (``import rnnkit as keras``).

Each test keeps the example's code path (data preparation, model, compile, fit, the
inference that follows) on a slice of data small enough for a few seconds on one core:
the sizes (samples, units, epochs) are cut, nothing else. Where the example downloads a
dataset, the test reads a small slice of a real one installed with the project (or, for
the addition example, generates the data as the example itself does).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


@pytest.fixture
def package_file() -> object:
    """``package_file(package, *parts)``: a data file inside an installed package, or skip."""
    return _package_file


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"the {package} package (test data) is not installed")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return path
