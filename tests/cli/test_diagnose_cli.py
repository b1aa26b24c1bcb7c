"""`rnnkit diagnose gradients` and `rnnkit bench memory`, in process."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from typer.testing import CliRunner

from rnnkit.cli.bench import app as bench_app
from rnnkit.cli.diagnose import app as diagnose_app
from rnnkit.cli.main import main

runner = CliRunner()


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: a second thread only adds synchronization, which on a shared 2-core machine
    under load costs more than the work (the exploding demo ran 25x slower with 2 threads)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_gradients_writes_json_and_plot(tmp_path):
    out, png = tmp_path / "g.json", tmp_path / "g.png"
    args = ["gradients", "--cells", "simple,lstm", "--length", "6", "--units", "4", "--batch-size", "4",
            "--train-steps", "2", "--explode-gain", "3", "--forget-bias", "5",
            "--output", str(out), "--plot", str(png)]  # fmt: skip
    result = runner.invoke(diagnose_app, args)
    assert result.exit_code == 0, result.output
    assert "Gradient reaching step 1" in result.output and "exploding" in result.output
    report = json.loads(out.read_text())
    assert report["command"].startswith("rnnkit ")
    assert set(report["cells"]) == {"simple", "lstm"}
    lstm = report["cells"]["lstm"]
    assert len(lstm["init"]["dh_norm"]) == 6 and len(lstm["trained"]["dx_norm"]) == 6
    assert set(lstm["spectra_init"]) == {"i", "f", "g", "o"}
    assert lstm["init_forget_bias"]["carry"]["mean_forget_gate"] > 0.99  # sigmoid(5)
    assert report["exploding"]["grad_norm_after_clip"] == pytest.approx(1.0, rel=1e-4)
    assert png.stat().st_size > 1000


def test_bench_memory_writes_json(tmp_path):
    out = tmp_path / "m.json"
    args = ["memory", "--task", "adding", "--cells", "gru", "--lengths", "3,4", "--steps", "2",
            "--units", "4", "--batch-size", "4", "--eval-every", "1", "--output", str(out)]  # fmt: skip
    result = runner.invoke(bench_app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [(r["cell"], r["length"], r["steps"]) for r in data["rows"]] == [("gru", 3, 2), ("gru", 4, 2)]
    assert data["config"]["units"] == 4 and data["command"].startswith("rnnkit ")


def test_json_prints_json_to_stdout(tmp_path):
    """--json always means JSON on stdout (files are named by --output / --plot)."""
    args = ["memory", "--task", "adding", "--cells", "gru", "--lengths", "3", "--steps", "1",
            "--units", "4", "--batch-size", "4", "--eval-every", "1", "--json"]  # fmt: skip
    result = runner.invoke(bench_app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(r["cell"], r["length"]) for r in data["rows"]] == [("gru", 3)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["diagnose", "gradients", "--cells", "simple,rnn"],
            "error: cell='rnn' is not valid: expected one of 'simple', 'lstm', 'gru'.",
        ),
        (
            ["diagnose", "gradients", "--cells", ","],
            "error: cells=[] is not valid: expected a non-empty list of 'simple', 'lstm', 'gru'.",
        ),
        (
            ["diagnose", "gradients", "--length", "1"],
            "error: length=1 is not valid: expected an integer >= 2.",
        ),
        (
            ["diagnose", "gradients", "--init", "he"],
            "error: init='he' is not valid: expected one of 'orthogonal', 'identity', 'glorot'.",
        ),
        (["bench", "memory", "--lengths", "50,1"], "error: length=1 is not valid: expected an integer >= 2."),
        (
            ["bench", "memory", "--lengths", "50,x"],
            "error: lengths='50,x' is not valid: expected comma-separated integers.",
        ),
        (
            ["bench", "memory", "--cells", ""],
            "error: cells=[] is not valid: expected a non-empty list of 'simple', 'lstm', 'gru'.",
        ),
        (
            ["bench", "memory", "--task", "sort"],
            "error: task='sort' is not valid: expected one of 'adding', 'copy'.",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(monkeypatch, capsys, argv, message):
    monkeypatch.setattr(sys, "argv", ["rnnkit", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [message]
