"""Test helpers shared across the suite."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch


def right_padded_mask(lengths: Iterable[int], T: int) -> torch.Tensor:
    """(B, T) bool, True for the first ``length`` steps of each row."""
    lens = torch.as_tensor(list(lengths))
    return torch.arange(T).unsqueeze(0) < lens.unsqueeze(1)


def grads_of(fn: Callable[[], Any], tensors: list[torch.Tensor]) -> tuple[Any, list[torch.Tensor | None]]:
    """Run ``fn``, backprop a fixed random projection of every output, return outputs and grads."""
    for t in tensors:
        t.grad = None
    out = fn()
    outs = out if isinstance(out, (tuple, list)) else (out,)
    g = torch.Generator().manual_seed(123)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outs)
    loss.backward()
    return out, [None if t.grad is None else t.grad.clone() for t in tensors]


def assert_close_all(a: Iterable[Any], b: Iterable[Any], atol: float = 1e-5, rtol: float = 1e-5) -> None:
    a, b = list(a), list(b)
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x is None or y is None:
            assert x is None and y is None, f"item {i}: one is None"
            continue
        torch.testing.assert_close(x, y, atol=atol, rtol=rtol, msg=lambda m, i=i: f"item {i}: {m}")


# ------------------------------------------------------------- Keras parity
def _np_tree(x: Any) -> Any:
    import numpy as np

    if isinstance(x, (list, tuple)):
        return [_np_tree(v) for v in x]
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _plain(v: Any) -> Any:
    """A config value as JSON would carry it (tuples -> lists); initializer dicts -> class name."""
    if isinstance(v, dict) and "class_name" in v:
        return v["class_name"].replace("_", "").lower()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def keras_layout_grads(ours: Any) -> list[Any]:
    """Our weights' gradients in Keras's layout and order (zeros where a weight has no grad)."""
    import numpy as np

    from rnnkit.layers import to_keras

    params = list(ours.parameters())
    saved = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p in params:
            p.copy_(torch.zeros_like(p) if p.grad is None else p.grad)
        out = [np.array(w, copy=True) for w in to_keras(ours)]  # to_keras may share memory
        for p, s in zip(params, saved, strict=True):
            p.copy_(s)
    return out


@contextlib.contextmanager
def keras_drops_mask() -> Iterator[None]:
    """Keras warns that a layer without mask support drops the mask it was given: expect that."""
    import pytest

    with pytest.warns(UserWarning, match="does not support masking"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Keras's own numpy noise on that path
        yield


def check_layer(
    cls_name: str,
    kwargs: dict[str, Any] | None = None,
    inputs: Any = None,
    *,
    input_shape: Any = None,
    mask: Any = None,
    mask_argument: bool = False,
    training: bool = False,
    backward: bool = True,
    randomize: Callable[[Any], list[Any]] | None = None,
    call_kwargs: dict[str, Any] | None = None,
    ignore_config: Iterable[str] = (),
    atol: float = 1e-5,
    seed: int = 0,
) -> tuple[Any, Any]:
    """One parity harness for every layer, against Keras 3 (torch backend), as Keras's own
    ``run_layer_test``: the same class name and arguments on both sides, Keras's weights
    (randomized) copied into ours with ``from_keras``, then

    - forward: every output equal within ``atol``, and the output mask equal to Keras's
      ``compute_mask``; ``compute_output_shape`` equal to the real output shape;
    - backward (``backward=True``): a fixed random projection of the outputs backpropagated on
      both sides; input gradients and every trainable weight's gradient (in Keras's layout) equal;
    - config: our ``get_config()`` has Keras's keys (but ``dtype``, and ``activity_regularizer``
      when None) with the same values; ``from_config`` of Keras's own config builds a layer that
      computes the same outputs (what a ``.keras`` file reader does).

    ``mask`` rides on the inputs as ``_keras_mask`` (as in a model), or is passed as ``mask=`` with
    ``mask_argument=True`` (Keras reads a carried mask only from the first argument, so a call with
    ``initial_state=`` needs the explicit argument).

    ``inputs``: an array or a list of arrays (float32); or ``input_shape`` (a shape or a list of
    shapes) for seeded normal inputs. Returns (ours, keras layer) for more checks.
    """
    import keras
    import numpy as np

    from rnnkit import layers as rk
    from rnnkit.layers import from_keras

    kwargs = dict(kwargs or {})
    call_kwargs = dict(call_kwargs or {})
    rng = np.random.default_rng(seed)
    if inputs is None:
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        arrays = [rng.normal(size=s).astype("float32") for s in shapes]
        inputs = arrays if isinstance(input_shape, list) else arrays[0]
    multi = isinstance(inputs, list)
    arrays = inputs if multi else [inputs]

    klayer = getattr(keras.layers, cls_name)(**kwargs)
    ours = getattr(rk, cls_name)(**kwargs)
    shapes_in = [tuple(a.shape) for a in arrays]
    klayer.build(shapes_in if multi else shapes_in[0])
    ours.build(shapes_in if multi else shapes_in[0])
    if klayer.weights:
        weights = (
            randomize(klayer)
            if randomize
            else [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in klayer.get_weights()]
        )
        klayer.set_weights(weights)
        from_keras(ours, klayer.get_weights())

    def mask_arg() -> Any:
        if mask is None:
            return None
        if multi:
            return [None if m is None else torch.as_tensor(m) for m in mask]
        return torch.as_tensor(mask)

    def run(layer: Any) -> tuple[Any, list[torch.Tensor]]:
        # The mask travels on the inputs (``_keras_mask``, read by Keras's torch backend and by
        # rnnkit alike), as in a model: layers that do not take ``mask=`` still see it.
        xs = [torch.tensor(a, requires_grad=backward) for a in arrays]
        extra = dict(call_kwargs)
        if mask_argument:
            extra["mask"] = mask_arg()
        else:
            masks = mask_arg() if multi else [mask_arg()]
            for x, m in zip(xs, masks or [None] * len(xs), strict=True):
                if m is not None:
                    x._keras_mask = m  # type: ignore[attr-defined]
        out = layer(xs if multi else xs[0], training=training, **extra)
        return out, xs

    k_out, k_xs = run(klayer)
    o_out, o_xs = run(ours)
    k_flat = list(k_out) if isinstance(k_out, (list, tuple)) else [k_out]
    o_flat = list(o_out) if isinstance(o_out, (list, tuple)) else [o_out]
    assert len(k_flat) == len(o_flat), f"rnnkit returned {len(o_flat)} tensors, Keras {len(k_flat)}"
    for i, (a, b) in enumerate(zip(o_flat, k_flat, strict=True)):
        a_np, b_np = _np_tree(a), np.asarray(keras.ops.convert_to_numpy(b))
        assert a_np.shape == b_np.shape, f"output {i}: shape {a_np.shape} != Keras's {b_np.shape}"
        np.testing.assert_allclose(a_np, b_np, atol=atol, rtol=atol, err_msg=f"output {i}")

    # The output mask: the one Keras attaches to its output (``_keras_mask``), or none.
    k_mask = getattr(k_flat[0], "_keras_mask", None)
    o_mask = getattr(o_flat[0], "_keras_mask", None)
    if k_mask is None:
        assert o_mask is None, "rnnkit's output carries a mask, Keras's carries none"
    else:
        assert o_mask is not None, "Keras's output carries a mask, rnnkit's carries none"
        np.testing.assert_array_equal(_np_tree(o_mask), _np_tree(k_mask))

    # compute_output_shape agrees with the real output.
    shape_in = [(None, *s[1:]) for s in shapes_in] if multi else (None, *shapes_in[0][1:])
    expected = ours.compute_output_shape(shape_in)
    nested = isinstance(expected, list) or (bool(expected) and isinstance(expected[0], (tuple, list)))
    for e, o in zip(expected if nested else [expected], o_flat, strict=True):
        assert tuple(e)[1:] == tuple(o.shape)[1:], f"compute_output_shape {e} != output {tuple(o.shape)}"

    if backward:
        g = torch.Generator().manual_seed(123)
        projections = [torch.randn(tuple(o.shape), generator=g) for o in o_flat]
        sum((o * p).sum() for o, p in zip(o_flat, projections, strict=True)).backward()
        sum((torch.as_tensor(k) * p).sum() for k, p in zip(k_flat, projections, strict=True)).backward()
        for i, (a, b) in enumerate(zip(o_xs, k_xs, strict=True)):
            ga = np.zeros(a.shape, "float32") if a.grad is None else a.grad.numpy()
            gb = np.zeros(b.shape, "float32") if b.grad is None else b.grad.numpy()
            np.testing.assert_allclose(ga, gb, atol=atol, rtol=atol, err_msg=f"input grad {i}")
        if klayer.weights:
            ours_g = keras_layout_grads(ours)
            for i, v in enumerate(klayer.weights):
                if not v.trainable:
                    continue
                grad = v.value.grad
                kg = np.zeros(v.shape, "float32") if grad is None else grad.detach().cpu().numpy()
                np.testing.assert_allclose(ours_g[i], kg, atol=atol, rtol=atol, err_msg=f"grad of {v.path}")

    # Config: Keras's keys and values; our from_config reads Keras's own config.
    kcfg = klayer.get_config()
    kcfg.pop("dtype", None)
    if kcfg.get("activity_regularizer", 0) is None:
        kcfg.pop("activity_regularizer")
    ocfg = ours.get_config()
    skip = set(ignore_config) | {"name"}
    missing = sorted(set(kcfg) - set(ocfg) - skip)
    assert not missing, f"get_config lacks Keras's keys {missing}"
    for key in set(kcfg) - skip:
        assert _plain(ocfg[key]) == _plain(kcfg[key]), (
            f"config[{key!r}]: {ocfg[key]!r} != Keras's {kcfg[key]!r}"
        )
    twin = type(ours).from_config({k: v for k, v in kcfg.items() if k not in set(ignore_config)})
    twin.build(shapes_in if multi else shapes_in[0])
    if list(twin.parameters()):
        from_keras(twin, klayer.get_weights())
    again = type(ours).from_config(ocfg)
    assert _plain(again.get_config()) == _plain(ocfg), "from_config(get_config()) changed the config"
    xs = [torch.tensor(a) for a in arrays]
    for x, m in zip(xs, (mask_arg() if multi else [mask_arg()]) or [None] * len(xs), strict=True):
        if m is not None:
            x._keras_mask = m  # type: ignore[attr-defined]
    t_out = twin(xs if multi else xs[0], training=False, **call_kwargs)  # the mask rides on xs
    if not training:
        t_flat = list(t_out) if isinstance(t_out, (list, tuple)) else [t_out]
        for a, b in zip(t_flat, o_flat, strict=True):
            torch.testing.assert_close(a, b.detach(), atol=atol, rtol=atol)
    return ours, klayer


@contextlib.contextmanager
def live_server(app: Any) -> Iterator[str]:
    """``app`` under uvicorn on 127.0.0.1 for a browser test; yields its base URL.

    The socket is bound before the server starts (the OS picks the port: no race), and the
    server is stopped and joined on exit."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start within 30 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextlib.contextmanager
def serve_runs(run_dirs: Iterable[Path]) -> Iterator[str]:
    """The demo server over ``run_dirs`` under :func:`live_server`; yields its base URL."""
    from rnnkit.server.app import create_app

    with live_server(create_app(list(run_dirs))) as url:
        yield url


# ------------------------------------------------------------------ browser tests
CHROMIUM = Path("/usr/bin/chromium")
# The flags the machine's probe used: as root Chromium needs --no-sandbox, and without the
# background-networking ones it keeps trying (and failing) to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Every browser test module's pytestmark (plus its own skips): one xdist worker runs the servers.
BROWSER_MARKS = [
    pytest.mark.xdist_group("server"),
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (make setup)"
    ),
]


@contextlib.contextmanager
def chromium_page(*args: str, timeout: int = 30_000, **page_options: Any) -> Iterator[tuple[Any, list[str]]]:
    """A page in Debian's headless Chromium (``CHROMIUM_ARGS`` plus ``args``), with the list its
    uncaught page errors go to; the browser closes on exit. Skips the test without Playwright (its
    own browser download needs the internet); ``expect`` then waits up to ``timeout`` ms."""
    sync_api = pytest.importorskip("playwright.sync_api")
    sync_api.expect.set_options(timeout=timeout)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *args]
        )
        try:
            page = browser.new_page(**page_options)
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            yield page, problems
        finally:
            browser.close()
