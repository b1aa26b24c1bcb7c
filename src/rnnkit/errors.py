"""The one exception hierarchy of rnnkit.

Every error the package raises on purpose derives from :class:`RnnkitError`, so
``except rnnkit.RnnkitError`` catches them all. The subclasses also derive from
the matching built-in (``ValueError``, ``ImportError`` ...) so code written for
Keras or PyTorch that catches those keeps working.

Messages follow one shape, built by :func:`invalid`: they name the argument, the
value received and what is allowed, e.g.
``merge_mode='max' is not valid: expected one of 'concat', 'sum', 'mul', 'ave', None.``
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class RnnkitError(Exception):
    """Base class of every error rnnkit raises on purpose."""


class ConfigError(RnnkitError, ValueError):
    """A constructor or function argument has a value that is not allowed."""


class ShapeError(RnnkitError, ValueError):
    """A tensor has the wrong rank or size for the layer it is given to."""


class KernelError(RnnkitError, ValueError):
    """A kernel was requested (e.g. ``use_fused=True``) that cannot run this configuration."""


class DataError(RnnkitError, ValueError):
    """Input data is empty, malformed or inconsistent."""


class CheckpointError(RnnkitError, OSError):
    """A saved model or checkpoint is missing, truncated or corrupted."""


class MissingDependencyError(RnnkitError, ImportError):
    """An optional dependency (a pip extra or a Debian package) is not installed."""


class TrainingError(RnnkitError, RuntimeError):
    """Training cannot go on (e.g. the loss became NaN)."""


def _fmt(value: Any) -> str:
    return repr(value)


def invalid(name: str, value: Any, expected: str | Iterable[Any]) -> str:
    """The standard message for a bad argument.

    ``expected`` is either a phrase ("a positive integer") or the allowed values.
    """
    if not isinstance(expected, str):
        expected = "one of " + ", ".join(_fmt(v) for v in expected)
    return f"{name}={_fmt(value)} is not valid: expected {expected}."
