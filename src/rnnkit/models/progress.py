"""What ``fit``/``evaluate``/``summary`` print, and nothing else prints.

All output goes through :func:`write`, so ``verbose=0`` (which never creates a
``callbacks.ProgbarLogger``) is silent. This module imports no callback: the
progress-bar callback lives in ``callbacks`` and calls down into here. On a
terminal, each epoch gets a live rich bar with loss, metrics and ETA; otherwise one
plain line per epoch, like Keras's
``verbose=2``:

    Epoch 1/5
    37/37 - 1s - 27ms/step - accuracy: 0.6441 - loss: 0.6312 - val_accuracy: 0.70 - val_loss: 0.58
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

_stream: TextIO | None = None


def set_stream(stream: TextIO | None) -> None:
    """Send rnnkit's printed output to ``stream`` (None: sys.stdout, looked up at each write)."""
    global _stream
    _stream = stream


def stream() -> TextIO:
    return _stream if _stream is not None else sys.stdout


def write(line: str = "") -> None:
    """The one place rnnkit prints (progress lines and summaries)."""
    out = stream()
    out.write(line + "\n")
    out.flush()


def is_terminal() -> bool:
    isatty = getattr(stream(), "isatty", None)
    return bool(isatty and isatty())


def format_logs(logs: dict[str, Any]) -> str:
    """``loss: 0.6312 - accuracy: 0.6441``: loss first, then the rest in order (val_ last)."""
    keys = sorted(logs, key=lambda k: (k.startswith("val_"), k.removeprefix("val_") != "loss"))
    return " - ".join(f"{k}: {_num(logs[k])}" for k in keys)


def _num(v: Any) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f"{v:.4f}" if abs(v) >= 1e-3 or v == 0 else f"{v:.4e}"


def duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60):02d}m"
    if seconds >= 60:
        return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"
    return f"{seconds:.0f}s"


def per_step(seconds: float, steps: int) -> str:
    s = seconds / max(steps, 1)
    return f"{s * 1e3:.0f}ms/step" if s >= 1e-3 else f"{s * 1e6:.0f}us/step"
