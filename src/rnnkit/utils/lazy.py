"""Lazy re-exports for packages (PEP 562): every public name importable from the package,
its submodule (and torch behind it) imported only when the name is first used.

A task package lists where each name lives and hands the table over::

    _EXPORTS = {"SpeechConfig": "config", "Transcriber": "predictor"}
    __all__ = list(_EXPORTS)
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], public: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level ``__getattr__`` and ``__dir__`` of ``package``.

    ``exports`` maps a name to the submodule (relative to ``package``) that defines it; ``public``
    is what ``dir()`` lists (the package's ``__all__``). A name is imported once, then cached in
    the package's namespace, so later lookups never reach ``__getattr__``.
    """
    listed = sorted(public)

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return list(listed)

    return __getattr__, __dir__
