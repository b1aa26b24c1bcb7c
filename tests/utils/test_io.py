"""rnnkit.utils.io: the one atomic writer (contents, permissions under the umask, failures)."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from rnnkit.utils.io import atomic_path, atomic_write, atomic_write_json


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test and put the old one back."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def test_bytes_text_and_json_land_whole(tmp_path):
    atomic_write(tmp_path / "a.bin", b"\x00\x01")
    atomic_write(tmp_path / "sub" / "b.txt", "héllo")  # the folder is made
    atomic_write_json(tmp_path / "c.json", {"b": 1, "a": [1.5, "é"]}, sort_keys=True)
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "sub" / "b.txt").read_bytes() == "héllo".encode()
    text = (tmp_path / "c.json").read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": [1.5, "é"], "b": 1}
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.bin", "b.txt", "c.json", "sub"]


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_mode_follows_the_umask_as_open_does(tmp_path, umask, mask, expected):
    umask(mask)
    atomic_write(tmp_path / "w.bin", b"x")
    atomic_write_json(tmp_path / "w.json", [1])
    with atomic_path(tmp_path / "p.bin") as tmp:
        tmp.write_bytes(b"y")
    with open(tmp_path / "plain", "w") as f:  # the reference: what a plain open() gives
        f.write("z")
    assert _mode(tmp_path / "plain") == expected
    for name in ("w.bin", "w.json", "p.bin"):
        assert _mode(tmp_path / name) == expected, name


def test_a_failing_writer_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "model.safetensors"
    atomic_write(target, b"old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    with pytest.raises(TypeError):
        atomic_write_json(target, {"x": object()})  # not JSON: nothing is written
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_atomic_path_replaces_only_at_the_end(tmp_path):
    target = tmp_path / "fig.png"
    atomic_write(target, b"old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".fig.png.") and tmp.exists()
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # readers still see the old file
    assert target.read_bytes() == b"new"
    assert not tmp.exists()


def test_concurrent_writers_leave_one_whole_payload(tmp_path):
    target = tmp_path / "shared.json"
    payloads = [{"writer": i, "data": [i] * 2000} for i in range(8)]
    threads = [threading.Thread(target=atomic_write_json, args=(target, p)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert json.loads(target.read_text()) in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]


def test_model_tokenizer_and_figure_files_follow_the_umask(tmp_path, umask):
    """#20 item 13: model and checkpoint files came out 0600 (mkstemp) beside 0644 JSON."""
    import torch

    from rnnkit import Sequential, layers
    from rnnkit.data import WordTokenizer

    umask(0o022)
    model = Sequential([layers.SimpleRNN(3), layers.Dense(1)])
    model(torch.zeros(1, 2, 4))
    model.save(tmp_path / "model.safetensors")
    tok = WordTokenizer()
    tok.fit(["a b c"])
    tok.save(tmp_path / "tokenizer.json")
    for name in ("model.safetensors", "tokenizer.json"):
        assert _mode(tmp_path / name) == 0o644, name
