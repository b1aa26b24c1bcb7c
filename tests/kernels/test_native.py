"""The C++ loop's build: cached per source, and a failed build falls back with one warning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnkit import layers
from rnnkit.kernels import native

NATIVE_OFF = os.environ.get("RNNKIT_NATIVE") == "0"


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "OMP_NUM_THREADS": "1", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_failed_build_falls_back_to_the_python_loop_with_one_warning(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cpp"
    bad.write_text("#error this source does not compile\n")
    code = f"""
import pathlib, torch
from rnnkit import layers
from rnnkit.kernels import native
native.SOURCE = pathlib.Path({str(bad)!r})
native.EXTRA_SOURCES = []  # only the bad file: ninja would finish compiling the others first
gru, ln = layers.GRU(4), layers.LSTM(4, layer_norm=True)
x = torch.randn(2, 3, 5)
gru(x); ln(x); ln(x)
print(gru.last_kernel.name, ln.last_kernel.name, native.build_error() is not None)
"""
    out = _run(code, RNNKIT_CACHE=str(tmp_path / "cache"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["fused:aten", "fast:python", "True"]
    assert out.stderr.count("the C++ fast kernel could not be built") == 1


def test_rnnkit_native_0_turns_the_cpp_loop_off() -> None:
    code = "import torch; from rnnkit import layers; g = layers.GRU(4); g(torch.randn(2, 3, 5))"
    code += "; print(g.last_kernel)"
    out = _run(code, RNNKIT_NATIVE="0")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "fused:aten (eligible)"
    assert "could not be built" not in out.stderr


@pytest.mark.skipif(NATIVE_OFF, reason="RNNKIT_NATIVE=0 turns the C++ loop off")
def test_the_buffer_cache_recycles_and_clears() -> None:
    assert native.available()
    gru = layers.GRU(64, return_sequences=True)
    x = torch.randn(8, 400, 16)  # big enough for cached buffers (>= 256 KiB each)
    for _ in range(2):
        gru(x).sum().backward()
    assert gru.last_kernel.name == "fast:cpp"
    assert native.load().cached_bytes() > 0  # freed by autograd, kept for the next batch
    native.clear_cache()
    assert native.load().cached_bytes() == 0
