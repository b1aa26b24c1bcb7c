# ruff: noqa: E501  (the table of cases reads best one per line)
"""Every usage error and unreadable input: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import pytest

from rnnkit.cli.main import main


def run_main(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


@pytest.fixture
def fake_run(tmp_path):
    """A run directory whose run.json names the task (enough for the checks before a model loads)."""
    root = tmp_path / "sent"
    root.mkdir()
    (root / "run.json").write_text('{"format": "rnnkit.run/1", "task": "sentiment", "config": {}}')
    return root


def cases(tmp_path, fake_run):
    big = tmp_path / "big.csv"
    big.write_text("text,label\n" + '"' + "x" * 200_000 + '",1\n' + "ok,0\n")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"text,label\ncaf\xe9 au lait,1\nthe film,0\n")
    lines = tmp_path / "lines.txt"
    lines.write_bytes(b"good\n\xff\xfe bad bytes\n")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "run.json").write_text("{not json")
    return {
        "missing argument": (["predict"], "error: Missing argument 'run'."),
        "unknown command": (["trian"], "error: No such command 'trian'."),
        "unknown task": (["train", "sentimnt", "--out", str(tmp_path / "o")], "error: No such command 'sentimnt'."),
        "missing --out": (["train", "sentiment"], "error: Missing option '--out'."),
        "--epochs abc": (["train", "sentiment", "--out", str(tmp_path / "o"), "--epochs", "abc"], "error: Invalid value for '--epochs'"),
        "--units abc": (["train", "sentiment", "--out", str(tmp_path / "o"), "--units", "abc"], "error: units='abc' is not valid: expected an integer."),
        "--set typo": (["train", "sentiment", "--out", str(tmp_path / "o"), "--set", "unit=3"], "error: config key='unit' is not valid"),
        "bad choice": (["train", "sentiment", "--out", str(tmp_path / "o"), "--cell", "lstmm"], "error: cell='lstmm' is not valid: expected one of 'lstm', 'gru', 'rnn'."),
        "bad JSON": (["predict", str(broken), "hello"], "error: "),
        "non-UTF-8 file": (["predict", str(fake_run), "--file", str(lines)], "error: "),
        "non-UTF-8 data": (["train", "sentiment", "--out", str(tmp_path / "o"), "--data", str(latin), "--epochs", "0"], "error: "),
        "CSV field over the limit": (["train", "sentiment", "--out", str(tmp_path / "o"), "--data", str(big), "--epochs", "0"], "error: "),
        "no run directory": (["evaluate", str(tmp_path / "nope")], "error: run directory"),
    }  # fmt: skip


CASES = [
    "missing argument",
    "unknown command",
    "unknown task",
    "missing --out",
    "--epochs abc",
    "--units abc",
    "--set typo",
    "bad choice",
    "bad JSON",
    "non-UTF-8 file",
    "non-UTF-8 data",
    "CSV field over the limit",
    "no run directory",
]


@pytest.mark.parametrize("name", CASES)
def test_usage_error_is_one_line_and_exit_2(name, tmp_path, fake_run, capsys):
    argv, start = cases(tmp_path, fake_run)[name]
    code, out, err = run_main(capsys, argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(start), lines[0]
    assert "Traceback" not in err


def test_help_answers_without_error(capsys):
    code, out, _ = run_main(capsys, ["--help"])
    assert code == 0
    for command in ("train", "evaluate", "serve", "predict", "suggest", "generate", "forecast", "backtest"):
        assert command in out
    code, out, _ = run_main(capsys, ["train", "lm", "--help"])
    assert code == 0 and "--level" in out and "--max-samples" in out and "--overwrite" in out
