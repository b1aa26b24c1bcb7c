"""What ``fit``/``evaluate``/``summary`` print, and nothing else prints.

All output goes through :func:`write`, so ``verbose=0`` (which never creates a
:class:`ProgbarLogger`) is silent. On a terminal, each epoch gets a live rich
bar with loss, metrics and ETA; otherwise one plain line per epoch, like Keras's
``verbose=2``:

    Epoch 1/5
    37/37 - 1s - 27ms/step - accuracy: 0.6441 - loss: 0.6312 - val_accuracy: 0.70 - val_loss: 0.58
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from rnnkit.models.callbacks import Callback

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


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60):02d}m"
    if seconds >= 60:
        return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"
    return f"{seconds:.0f}s"


def _per_step(seconds: float, steps: int) -> str:
    s = seconds / max(steps, 1)
    return f"{s * 1e3:.0f}ms/step" if s >= 1e-3 else f"{s * 1e6:.0f}us/step"


class ProgbarLogger(Callback):
    """Keras's progress output. ``verbose=1``: a live bar on a terminal, plain lines otherwise;
    ``verbose=2``: one line per epoch always."""

    def __init__(self, verbose: int = 1) -> None:
        super().__init__()
        self.verbose = verbose
        self.live = verbose == 1 and is_terminal()
        self._progress: Any = None
        self._refresh = 0.0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.epochs = int(self.params.get("epochs", 1))
        self.steps = self.params.get("steps")

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._t0 = time.perf_counter()
        self._seen = 0
        write(f"Epoch {epoch + 1}/{self.epochs}")
        if self.live:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                MofNCompleteColumn(),
                BarColumn(bar_width=20),
                TimeRemainingColumn(),
                TextColumn("{task.fields[logs]}"),
                console=Console(file=stream()),
                transient=False,
                auto_refresh=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("", total=self.steps, logs="")

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._seen = batch + 1
        if self._progress is None:
            return
        now = time.perf_counter()
        # Redrawing costs ~1 ms; at most 10 times a second keeps it off the step time.
        if now - self._refresh >= 0.1 or (self.steps and self._seen == self.steps):
            self._refresh = now
            self._progress.update(self._task, completed=self._seen, logs=format_logs(logs or {}))
            self._progress.refresh()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        elapsed = time.perf_counter() - self._t0
        steps = self.steps or self._seen
        timing = f"{_duration(elapsed)} - {_per_step(elapsed, self._seen)}"
        line = f"{self._seen}/{steps} - {timing} - {format_logs(logs or {})}"
        if self._progress is not None:
            self._progress.update(self._task, completed=self._seen, logs=format_logs(logs or {}))
            self._progress.refresh()
            self._progress.stop()
            self._progress = None
            return
        write(line)
