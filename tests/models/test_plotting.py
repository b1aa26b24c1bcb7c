"""models.plotting's save helper: the suffix picks the format (or is refused); the umask applies."""

from __future__ import annotations

import os
import stat

import pytest

from rnnkit.errors import ConfigError
from rnnkit.models.plotting import figure_format, new_figure, plot_history, save_png

pytest.importorskip("matplotlib")

# The first bytes of each format (its "magic number").
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".jpg": b"\xff\xd8\xff", ".jpeg": b"\xff\xd8\xff", ".pdf": b"%PDF-"}


def _figure():
    fig = new_figure(2.0, 1.5, dpi=50)
    fig.subplots().plot([0, 1, 2], [1, 0, 1])
    return fig


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".jpeg", ".pdf", ".JPG"])
def test_the_suffix_chooses_the_format(tmp_path, suffix):
    path = save_png(_figure(), tmp_path / f"plot{suffix}")
    assert path.read_bytes().startswith(MAGIC[suffix.lower()])


def test_svg_is_svg(tmp_path):
    text = save_png(_figure(), tmp_path / "plot.svg").read_text(encoding="utf-8")
    assert "<svg" in text[:2000]


@pytest.mark.parametrize("name", ["plot.bmp", "plot", "plot.png.txt"])
def test_other_suffixes_are_refused_before_writing(tmp_path, name):
    with pytest.raises(ConfigError) as err:
        save_png(_figure(), tmp_path / name)
    assert str(err.value) == (
        f"path={str(tmp_path / name)!r} is not valid: expected a file name ending in "
        ".png, .svg, .pdf, .jpg or .jpeg."
    )
    with pytest.raises(ConfigError, match=r"^plot='x.gif' is not valid"):
        figure_format("x.gif", name="plot")
    with pytest.raises(ConfigError):
        plot_history({"loss": [1.0, 0.5]}, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_figures_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        save_png(_figure(), tmp_path / "a.png")
        plot_history({"loss": [1.0, 0.5]}, tmp_path / "curve.jpg")
    finally:
        os.umask(old)
    for name in ("a.png", "curve.jpg"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    assert (tmp_path / "curve.jpg").read_bytes().startswith(MAGIC[".jpg"])


def test_a_one_epoch_curve_has_whole_epoch_ticks_and_its_values_written(tmp_path, monkeypatch):
    """Issue 20 item 16: one epoch drew an x-axis from 0.96 to 1.04 with fractional ticks."""
    from rnnkit.models import plotting

    figures = []
    real_save = plotting.save_png
    monkeypatch.setattr(plotting, "save_png", lambda fig, path: figures.append(fig) or real_save(fig, path))
    plot_history({"loss": [4.7], "val_loss": [5.87]}, tmp_path / "curve.png", title="lm training (run/)")
    (ax,) = figures[0].axes
    fig_ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ax.get_xlim() == (0.5, 1.5) and fig_ticks == [1.0]
    assert sorted(t.get_text() for t in ax.texts) == ["4.7", "5.87"]
    assert figures[0]._suptitle.get_text() == "lm training (run/)"
    plot_history({"loss": [3.0, 2.0, 1.5]}, tmp_path / "curve3.png")
    ax = figures[1].axes[0]
    assert ax.get_xlim() == (0.5, 3.5) and not ax.texts
    assert all(float(t).is_integer() for t in ax.get_xticks())
