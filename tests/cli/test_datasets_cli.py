"""`rnnkit datasets list/show`, in process."""

import sys

import pytest
from typer.testing import CliRunner

from rnnkit.cli.datasets import app
from rnnkit.cli.main import main

runner = CliRunner()


def test_list_shows_every_dataset():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    for name in ("imdb", "ptb", "stocks", "nyc_weather", "tweets"):
        assert name in result.output
    assert "887,521" in result.output
    assert "…" not in result.output  # piped: nothing cut short


def test_show_loads_and_prints_samples():
    result = runner.invoke(app, ["show", "stocks:IBM", "-n", "2"])
    assert result.exit_code == 0, result.output
    assert "BSD-3-Clause" in result.output and "samples" in result.output
    assert "train 2,290 / validation 490 / test 490" in result.output


def test_show_without_loading():
    result = runner.invoke(app, ["show", "ptb", "--no-load"])
    assert result.exit_code == 0 and "samples" not in result.output


def test_unknown_dataset_is_one_line_without_traceback(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["rnnkit", "datasets", "show", "imbd"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: name='imbd' is not valid: expected one of ")
    assert "Traceback" not in captured.err + captured.out


def test_install_hint_is_not_eaten_as_markup():
    result = runner.invoke(app, ["show", "imdb", "--no-load"])
    assert "pip install 'rnnkit[datasets]'" in result.output
