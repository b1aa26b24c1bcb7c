"""Training curves: ``plot_history(history, "curve.png")``; and the figure helpers every plot
in rnnkit draws with (:func:`new_figure`, :func:`save_png`).

One panel per quantity (loss, then each metric), training and ``val_`` curves
together, epochs on x. Uses matplotlib's Agg backend: no display needed.

The file's suffix chooses its format (:data:`FIGURE_FORMATS`: ``.png``, ``.svg``, ``.pdf``,
``.jpg``/``.jpeg``); any other suffix is refused before anything is drawn or written, so
``--plot x.jpg`` gives a JPEG, never PNG bytes under a .jpg name.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from rnnkit.errors import ConfigError, MissingDependencyError, invalid
from rnnkit.utils.io import atomic_write

# suffix -> matplotlib's format name. JPEG goes through Pillow (a matplotlib dependency).
FIGURE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".jpg": "jpeg", ".jpeg": "jpeg"}


def figure_format(path: str | os.PathLike[str], name: str = "path") -> str:
    """The matplotlib format for ``path``'s suffix (case-insensitive); ConfigError naming
    ``name`` and the allowed suffixes otherwise. Commands call it on their ``--plot FILE``
    before any work, so a bad name fails at once."""
    fmt = FIGURE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ConfigError(
            invalid(name, os.fspath(path), "a file name ending in .png, .svg, .pdf, .jpg or .jpeg")
        )
    return fmt


def new_figure(width: float, height: float, dpi: int = 100) -> Any:
    """A matplotlib Figure on the Agg backend -- a Figure, not pyplot: no global state to leak
    or close. MissingDependencyError when matplotlib (the ``plot`` extra) is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingDependencyError("plots need matplotlib: pip install 'rnnkit[plot]'") from exc
    return Figure(figsize=(width, height), dpi=dpi)


def save_png(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Lay out and write ``fig`` to ``path`` in the format its suffix names (see
    :func:`figure_format`; the name stays from when PNG was the only one), atomically:
    readers never see half a file, and the file's mode follows the umask."""
    fmt = figure_format(path)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    atomic_write(path, buf.getvalue())
    return Path(path)


def plot_history(history: Any, path: str | os.PathLike[str], title: str | None = None) -> None:
    """Draw ``history`` (a :class:`History` or its ``.history`` dict) to ``path`` (PNG, SVG,
    PDF or JPEG, by suffix)."""
    figure_format(path)
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ConfigError(
            invalid("history", type(history).__name__, "a History from fit() with at least one epoch")
        )
    epochs = list(getattr(history, "epoch", []) or range(len(next(iter(logs.values())))))
    names = [k for k in logs if not k.startswith("val_")]
    names += [
        k.removeprefix("val_") for k in logs if k.startswith("val_") and k.removeprefix("val_") not in names
    ]
    names.sort(key=lambda k: k != "loss")  # loss first, as Keras prints it
    from matplotlib.ticker import MaxNLocator

    fig = new_figure(4.2 * len(names), 3.4)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    shown = [e + 1 for e in epochs]  # epochs counted from 1, as fit prints them
    for ax, name in zip(axes, names, strict=True):
        for key, style in ((name, "-"), (f"val_{name}", "--")):
            if key in logs:
                xs = shown[-len(logs[key]) :]
                ax.plot(xs, logs[key], style, marker="o", markersize=3, label=key)
                if len(xs) == 1:  # one point shows no curve: write its value beside it
                    ax.annotate(
                        f"{logs[key][0]:.4g}",
                        (xs[0], logs[key][0]),
                        xytext=(6, 0),
                        textcoords="offset points",
                        va="center",
                        fontsize=8,
                    )
        # Whole epochs only, half an epoch of margin: matplotlib's default for a single
        # epoch was an axis from 0.96 to 1.04 with ticks at fractions of an epoch.
        if len(shown) <= 10:
            ax.set_xticks(shown)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(min(shown) - 0.5, max(shown) + 0.5)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    save_png(fig, path)
