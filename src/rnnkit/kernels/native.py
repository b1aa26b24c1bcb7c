"""The fast kernel's time loop in C++ (``csrc/fast_rnn.cpp``), built on first use.

Python's per-step cost (a dozen ATen calls, each a few microseconds of dispatch, plus the
interpreter) is what keeps :mod:`rnnkit.kernels.fast` level with ATen's own GRU/SimpleRNN
loop on CPU. The C++ loop runs the same algorithm -- same saved buffers, same equations --
with the gate math in one pass over each batch row and ATen's vectorized sigmoid/tanh.

It serves the common cells: SimpleRNN (tanh), LSTM and GRU (``reset_after=True``) with
sigmoid gates, with masks, recurrent dropout and layer norm; the rest (zoneout, GRU v1,
other activations) stays in the Python loop (:func:`native_blocker` says why).

The extension is compiled with ``torch.utils.cpp_extension`` (g++ and ninja) into
``$RNNKIT_CACHE/extensions`` (default ``~/.cache/rnnkit``), about a minute on 2 cores;
``make setup`` builds it ahead. If the build fails, rnnkit logs one warning and the Python
loop runs instead. ``RNNKIT_NATIVE=0`` turns it off; ``with use_native(False):`` does so
for a block (tests compare both).

The cache is shared by every checkout and virtual environment of one user, so:

- a build is keyed by everything that changes the binary (:func:`build_key`: the sources'
  hash, torch's version, git commit and C++ ABI, the compiler, Python's ABI tag and the
  CPU flags ``-march=native`` compiles for): two environments with different keys keep
  two files instead of rebuilding one in turns;
- one process builds a key at a time, under a file lock (``filelock``, a torch
  dependency); the others wait, then load its result;
- the build runs in a fresh temporary folder and the finished module is renamed into
  place (:func:`rnnkit.utils.io.atomic_replace`): a file under the final name is always
  whole, so nothing ever loads a half-written module;
- every build says so on stderr (what, where, why), and so does a wait for another's.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import importlib.util
import json
import logging
import os
import platform
import shutil
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from rnnkit.core import activations
from rnnkit.core.cells import LN_EPS, CellParams
from rnnkit.utils.io import atomic_replace, atomic_write_json

logger = logging.getLogger(__name__)

Tensor = torch.Tensor

SOURCE = Path(__file__).with_name("csrc") / "fast_rnn.cpp"  # the RNN loops and the module
EXTRA_SOURCES = [Path(__file__).with_name("csrc") / "min_scan.cpp"]  # minGRU/minLSTM
KIND_IDS = {"rnn": 0, "lstm": 1, "gru": 2}
CFLAGS = ["-O3", "-march=native", "-fopenmp-simd"]
BUILD_WAIT_S = 1800.0  # the longest we wait for another process's build before giving up
_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("rnnkit_native", default=True)
_lock = threading.Lock()
_module: Any = None
_error: str | None = None


def cache_dir() -> Path:
    return Path(os.environ.get("RNNKIT_CACHE", Path.home() / ".cache" / "rnnkit")) / "extensions"


def _cpu_flags() -> bytes:
    try:
        with open("/proc/cpuinfo", "rb") as f:
            return next((line for line in f if line.startswith(b"flags")), b"")
    except OSError:
        return platform.processor().encode()


def _compiler() -> str:
    """The C++ compiler cpp_extension will run ($CXX, else c++), named by its resolved path,
    size and modification time: an upgrade or another compiler changes the key, without
    running the compiler on every import to ask its version."""
    cxx = os.environ.get("CXX", "c++")
    found = shutil.which(cxx)
    if found is None:
        return f"{cxx} (not found)"
    real = os.path.realpath(found)
    st = os.stat(real)
    return f"{cxx} -> {real} ({st.st_size} bytes, mtime {st.st_mtime_ns})"


def build_key() -> dict[str, str]:
    """What the compiled module depends on; its hash names the build."""
    sources = hashlib.sha256()
    for p in [SOURCE, *EXTRA_SOURCES]:
        sources.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return {
        "sources": sources.hexdigest(),
        "torch": f"{torch.__version__} ({torch.version.git_version})",
        "torch_cxx11_abi": str(torch._C._GLIBCXX_USE_CXX11_ABI),
        "compiler": _compiler(),
        "cflags": " ".join(CFLAGS),
        "python": f"{sys.implementation.cache_tag} {sysconfig.get_config_var('EXT_SUFFIX')}",
        "cpu": hashlib.sha256(_cpu_flags()).hexdigest()[:16],  # -march=native: the CPU's flags
    }


def _build_name(key: dict[str, str] | None = None) -> str:
    blob = json.dumps(build_key() if key is None else key, sort_keys=True).encode()
    return f"rnnkit_fast_rnn_{hashlib.sha256(blob).hexdigest()[:16]}"


def _say(message: str) -> None:
    # stderr, not the logger: a build costs a minute of two cores, and whoever waits for it
    # must see why, whatever logging is configured to show.
    print(f"rnnkit: {message}", file=sys.stderr, flush=True)


def _put_ninja_on_path() -> None:
    """cpp_extension runs ``ninja`` from PATH; the pip package's binary sits in its own folder."""
    try:
        import ninja  # type: ignore[import-untyped]
    except ImportError:
        return  # a system ninja, if any, is already on PATH
    path = os.environ.get("PATH", "")
    if ninja.BIN_DIR not in path.split(os.pathsep):
        os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + path


def _compile(name: str, build_dir: Path, verbose: bool) -> tuple[ModuleType, Path]:
    """Build the module in ``build_dir`` (ninja, via cpp_extension) and import it from there;
    return it and the path of the built file."""
    from torch.utils import cpp_extension

    _put_ninja_on_path()
    module = cpp_extension.load(
        name=name,
        sources=[str(p) for p in [SOURCE, *EXTRA_SOURCES]],
        build_directory=str(build_dir),
        extra_cflags=CFLAGS,
        verbose=verbose,
    )
    return module, Path(module.__file__)  # type: ignore[arg-type]


def _import(name: str, path: Path) -> ModuleType:
    """Import the extension module ``name`` from the file ``path``."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {name} from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_or_build(verbose: bool) -> ModuleType:
    """The built module for this key: loaded if it is there, else built under the key's lock."""
    from filelock import FileLock, Timeout

    key = build_key()
    name = _build_name(key)
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{name}.so"
    if final.exists():  # only ever a whole file: it appears by rename once built
        return _import(name, final)
    lock = FileLock(str(root / f"{name}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        _say(f"waiting for another process to finish building the C++ fast kernel {final}")
        lock.acquire(timeout=BUILD_WAIT_S)
    try:
        if final.exists():  # the other process built it meanwhile
            return _import(name, final)
        for stale in root.glob(f".{name}.build-*"):  # left by a build that was killed
            shutil.rmtree(stale, ignore_errors=True)
        why = "; ".join(f"{k} {v}" for k, v in key.items())
        _say(f"compiling the C++ fast kernel into {final} (about a minute, once for: {why})")
        t0 = time.perf_counter()
        build = Path(tempfile.mkdtemp(prefix=f".{name}.build-", dir=root))
        try:
            module, built = _compile(name, build, verbose)
            atomic_write_json(root / f"{name}.json", key)  # what this build is for, to read
            atomic_replace(built, final)
        finally:
            shutil.rmtree(build, ignore_errors=True)
        _say(f"C++ fast kernel built in {time.perf_counter() - t0:.0f} s")
        return module
    finally:
        lock.release()


def load(verbose: bool = False) -> Any:
    """The compiled module, building it on first call; None (with one warning) if it cannot build."""
    global _module, _error
    if _module is not None or _error is not None:
        return _module
    with _lock:
        if _module is not None or _error is not None:
            return _module
        if os.environ.get("RNNKIT_NATIVE", "1") == "0":
            _error = "RNNKIT_NATIVE=0"
            return None
        try:
            _module = _load_or_build(verbose)
        except Exception as exc:  # a missing compiler or ninja, a build error: fall back, say so once
            _error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
            logger.warning(
                "rnnkit: the C++ fast kernel could not be built (%s); the Python fast kernel runs instead.",
                _error,
            )
    return _module


def available() -> bool:
    """True when the C++ loop is enabled here and built (building it if needed)."""
    return _ENABLED.get() and load() is not None


def build_error() -> str | None:
    """Why the C++ loop is unavailable (after :func:`load`), or None."""
    return _error


@contextlib.contextmanager
def use_native(enabled: bool) -> Iterator[None]:
    """Allow (True) or forbid (False) the C++ loop inside this block."""
    token = _ENABLED.set(bool(enabled))
    try:
        yield
    finally:
        _ENABLED.reset(token)


def _tensor_blocker(x: Tensor) -> str | None:
    """What both C++ loops (the cells' and the min-RNN scan) need of the tensors: CPU, float32 or
    float64, and no autocast, which would hand them bf16/fp16 projections they have no kernels for."""
    if x.is_cuda:
        return "tensors on CUDA"
    if x.dtype not in (torch.float32, torch.float64):
        return f"dtype {x.dtype}"
    if torch.is_autocast_enabled("cpu"):
        return "autocast (mixed precision)"
    return None


def native_blocker(p: CellParams, x: Tensor, zoneout: float) -> str | None:
    """Why the C++ loop cannot run this configuration, or None if it can."""
    blocker = _tensor_blocker(x)
    if blocker is not None:
        return blocker
    if p.kind == "gru" and not p.reset_after:
        return "GRU reset_after=False"
    if activations.name_of(p.activation) != "tanh":
        return "activation other than tanh"
    if p.kind != "rnn" and activations.name_of(p.recurrent_activation) != "sigmoid":
        return "recurrent_activation other than sigmoid"
    if zoneout:
        return "zoneout"
    return None


class NativeRNN(torch.autograd.Function):
    """outputs (T, B, H), h_T, c_T = the C++ loop over xp (T, B, G); the backward also in C++."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        kind: str,
        xp: Tensor,
        h0: Tensor,
        c0: Tensor | None,
        w_hh: Tensor,
        b_hh: Tensor | None,
        ln_w: Tensor | None,
        ln_b: Tensor | None,
        lnc_w: Tensor | None,
        lnc_b: Tensor | None,
        mask: Tensor | None,
        valid: Tensor | None,
        rmask: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        mod = load()
        k = KIND_IDS[kind]
        m = None if mask is None else mask.t().contiguous()  # (B, T) -> (T, B)
        # The C++ loop reads raw rows: every tensor it indexes must be contiguous.
        b_hh, ln_w, ln_b, lnc_w, lnc_b, rmask = (
            None if t is None else t.contiguous() for t in (b_hh, ln_w, ln_b, lnc_w, lnc_b, rmask)
        )
        saved = mod.forward(
            k, xp, h0, c0, w_hh.contiguous(), b_hh, ln_w, ln_b, lnc_w, lnc_b, m, rmask, LN_EPS
        )
        hs, cs = saved[0], saved[1]
        outs = hs if valid is None else hs * valid.t().unsqueeze(-1).to(hs.dtype)
        ctx.kind, ctx.has_b_hh = k, b_hh is not None
        ctx.save_for_backward(h0, c0, w_hh, ln_w, lnc_w, lnc_b, m, valid, rmask, *saved)
        h_n = hs[-1]
        c_n = cs[-1] if kind == "lstm" else h_n.new_empty(0)
        return outs, h_n, c_n

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, d_outs: Tensor, d_hT: Tensor, d_cT: Tensor) -> tuple[Any, ...]:
        h0, c0, w_hh, ln_w, lnc_w, lnc_b, m, valid, rmask, *saved = ctx.saved_tensors
        if valid is not None:
            d_outs = d_outs * valid.t().unsqueeze(-1).to(d_outs.dtype)
        # Undefined C++ tensors come back as None; the saved list keeps their slots.
        saved = [s if s is not None else torch.empty(0) for s in saved]
        gx, dh0, dc0, d_w, d_b, d_lw, d_lb, d_lcw, d_lcb = load().backward(
            ctx.kind,
            d_outs,
            d_hT,
            d_cT if ctx.kind == KIND_IDS["lstm"] else None,
            h0,
            c0,
            w_hh.contiguous(),
            ctx.has_b_hh,
            ln_w,
            lnc_w,
            lnc_b,
            m,
            rmask,
            saved,
        )
        return None, gx, dh0, dc0, d_w, d_b, d_lw, d_lb, d_lcw, d_lcb, None, None, None


class MinScan(torch.autograd.Function):
    """hs (B, T, H) of minGRU (gates=2) or minLSTM (gates=3) from the projection (B, T, G*H),
    in C++ (``csrc/min_scan.cpp``): the gate math and the recurrence in one pass per batch row."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, gates: int, proj: Tensor, h0: Tensor, mask: Tensor | None
    ) -> Tensor:
        proj = proj.contiguous()
        hs = load().min_scan_forward(gates, proj, h0, mask)
        ctx.gates = gates
        ctx.save_for_backward(proj, h0, mask, hs)
        return hs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, d_hs: Tensor) -> tuple[Any, ...]:
        proj, h0, mask, hs = ctx.saved_tensors
        d_proj, d_h0 = load().min_scan_backward(ctx.gates, proj, h0, mask, hs, d_hs)
        return None, d_proj, d_h0, None


def min_scan_blocker(x: Tensor) -> str | None:
    """Why the C++ min-RNN scan cannot run on ``x``, or None if it can."""
    blocker = _tensor_blocker(x)
    if blocker is not None:
        return blocker
    if not available():
        return "the C++ kernel is off or not built"
    return None


def clear_cache() -> None:
    """Hand the C++ loop's cached sequence buffers back to the system (they are reused otherwise)."""
    if _module is not None:
        _module.clear_cache()


def main() -> None:
    """Build now and say how it went (``make setup`` runs this)."""
    import time

    t0 = time.perf_counter()
    if load() is not None:
        print(f"rnnkit: C++ fast kernel ready ({time.perf_counter() - t0:.0f} s, {cache_dir()})")
    else:
        print(f"rnnkit: C++ fast kernel unavailable ({build_error()}); the Python loop will run")
