"""Device choice: CUDA when present (as Keras uses the GPU when it has one), else CPU."""

from __future__ import annotations

from typing import Any

import torch

from rnnkit.errors import ConfigError, invalid


def default_device() -> torch.device:
    """``cuda`` when a GPU is visible, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: Any = "auto") -> torch.device:
    """``"auto"``/None -> :func:`default_device`; otherwise anything ``torch.device`` accepts."""
    if device is None or device == "auto":
        return default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(invalid("device", device, "'auto', 'cpu', 'cuda' or 'cuda:N'")) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(invalid("device", device, "'cpu' or 'auto': CUDA is not available here"))
    return dev
