"""The C++ kernel cache (#20 item 1): keyed by what changes the binary, built once under a file
lock into a temporary folder and renamed into place, never loaded half-written, always announced.

The compiler is replaced by a stand-in that writes a file (a real build takes a minute)."""

from __future__ import annotations

import os
import threading
import time
import types
from pathlib import Path

import pytest

from rnnkit.kernels import native


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache folder, a fresh module state and a stand-in compiler; yields the calls."""
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path))
    monkeypatch.delenv("RNNKIT_NATIVE", raising=False)
    monkeypatch.setattr(native, "_module", None)
    monkeypatch.setattr(native, "_error", None)
    calls: dict[str, list] = {"compile": [], "import": [], "seen_final": []}

    def fake_compile(name: str, build_dir: Path, verbose: bool):
        final = native.cache_dir() / f"{name}.so"
        calls["seen_final"].append(final.exists())  # must not exist while the build runs
        out = build_dir / f"{name}.so"
        with open(out, "wb") as f:
            f.write(b"half")
            time.sleep(0.3)  # others arrive while it is half written
            f.write(b" and whole")
        calls["compile"].append(name)
        return types.SimpleNamespace(origin="built"), out

    def fake_import(name: str, path: Path):
        calls["import"].append(path.read_bytes())
        return types.SimpleNamespace(origin="cache")

    monkeypatch.setattr(native, "_compile", fake_compile)
    monkeypatch.setattr(native, "_import", fake_import)
    return calls


def _root() -> Path:
    return native.cache_dir()


def test_the_key_names_everything_that_changes_the_binary(monkeypatch, tmp_path):
    base = native._build_name()
    assert set(native.build_key()) == {
        "sources", "torch", "torch_cxx11_abi", "compiler", "cflags", "python", "cpu"
    }  # fmt: skip
    changed = {}
    with monkeypatch.context() as m:
        m.setattr(native.torch, "__version__", "9.9.9")
        changed["torch"] = native._build_name()
    with monkeypatch.context() as m:
        m.setattr(native.torch._C, "_GLIBCXX_USE_CXX11_ABI", not native.torch._C._GLIBCXX_USE_CXX11_ABI)
        changed["abi"] = native._build_name()
    with monkeypatch.context() as m:
        fake_cxx = tmp_path / "my-g++"
        fake_cxx.write_text("#!/bin/sh\n")
        fake_cxx.chmod(0o755)
        m.setenv("CXX", str(fake_cxx))
        changed["compiler"] = native._build_name()
    with monkeypatch.context() as m:
        m.setattr(native.sys.implementation, "cache_tag", "cpython-399")
        changed["python"] = native._build_name()
    with monkeypatch.context() as m:
        src = tmp_path / "fast_rnn.cpp"
        src.write_bytes(native.SOURCE.read_bytes() + b"\n// edited\n")
        m.setattr(native, "SOURCE", src)
        changed["sources"] = native._build_name()
    assert native._build_name() == base  # deterministic
    assert base not in changed.values() and len(set(changed.values())) == len(changed), changed


def test_a_build_is_announced_on_stderr_and_renamed_into_place(cache, capsys):
    module = native.load()
    assert module.origin == "built" and cache["compile"] and cache["seen_final"] == [False]
    name = cache["compile"][0]
    assert (_root() / f"{name}.so").read_bytes() == b"half and whole"
    assert (_root() / f"{name}.json").exists()
    assert not list(_root().glob(".*build-*"))  # the temporary folder is gone
    err = capsys.readouterr().err
    assert f"rnnkit: compiling the C++ fast kernel into {_root() / name}.so" in err
    assert "torch_cxx11_abi" in err and "compiler" in err and "rnnkit: C++ fast kernel built in" in err


def test_a_cached_build_is_loaded_without_a_word(cache, capsys, monkeypatch):
    native.load()
    capsys.readouterr()
    monkeypatch.setattr(native, "_module", None)
    assert native.load().origin == "cache"
    assert len(cache["compile"]) == 1 and cache["import"] == [b"half and whole"]
    assert capsys.readouterr().err == ""


def test_concurrent_loaders_build_once_and_never_load_half_a_file(cache, capsys):
    results = []

    def loader():
        results.append(native._load_or_build(verbose=False).origin)

    threads = [threading.Thread(target=loader) for _ in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["built", "cache", "cache"]
    assert len(cache["compile"]) == 1
    assert cache["import"] == [b"half and whole"] * 2  # never b"half"
    assert "waiting for another process" in capsys.readouterr().err


def test_a_killed_build_leaves_nothing_that_loads(cache, monkeypatch):
    name = native._build_name()
    stale = _root() / f".{name}.build-dead"
    stale.mkdir(parents=True)
    (stale / f"{name}.so").write_bytes(b"half")  # what a killed build leaves

    def crash(name: str, build_dir: Path, verbose: bool):
        (build_dir / f"{name}.so").write_bytes(b"half")
        raise RuntimeError("compiler killed")

    monkeypatch.setattr(native, "_compile", crash)
    assert native.load() is None and "compiler killed" in native.build_error()
    assert sorted(os.listdir(_root())) == [f"{name}.lock"]  # no module, no temporary folder
