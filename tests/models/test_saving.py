"""save / load_model: identical predictions, resumable training, atomic writes, clear errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from rnnkit import CheckpointError, Model, Sequential, layers, load_model, set_seed
from rnnkit.models import saving

SCRIPT = Path(__file__).parent / "scripts" / "train_resumable.py"


def _data(n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6, 3)).astype("float32")
    return x, (x[:, :, 0].sum(axis=1) > 0).astype("float32")


def _trained(tmp_path: Path) -> tuple[Sequential, Path]:
    set_seed(0)
    x, y = _data()
    model = Sequential(
        [
            layers.Bidirectional(layers.LSTM(6, return_sequences=True)),
            layers.GRU(5),
            layers.Dense(1, activation="sigmoid", kernel_regularizer="l2"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "model.safetensors"
    model.save(path)
    return model, path


def test_save_load_gives_identical_predictions(tmp_path: Path) -> None:
    model, path = _trained(tmp_path)
    x, y = _data()
    loaded = load_model(path)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    assert loaded.initial_epoch == 2


def test_loaded_optimizer_state_continues_training_identically(tmp_path: Path) -> None:
    model, path = _trained(tmp_path)
    loaded = load_model(path)
    x, y = _data()
    for m in (model, loaded):
        set_seed(1)
        m.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)


def test_masked_embedding_model_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 9, size=(10, 7))
    x[:, 5:] = 0
    model = Sequential([layers.Embedding(9, 4, mask_zero=True), layers.SimpleRNN(3), layers.Dense(2)])
    model.compile(loss="mse")
    before = model.predict(x)
    model.save(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(before, load_model(tmp_path / "m.safetensors").predict(x))


class TwoTower(Model):
    def __init__(self, units: int = 4, vocab: int = 10) -> None:
        super().__init__()
        self.emb = layers.Embedding(vocab, 3)
        self.left = layers.LSTM(units)
        self.right = layers.GRU(units)
        self.head = layers.Dense(1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.left(self.emb(a)), self.right(self.emb(b))], dim=-1))


def test_subclassed_model_round_trips_with_its_arguments(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 10, size=(8, 5)), rng.integers(0, 10, size=(8, 4))
    model = TwoTower(units=5)
    model.compile(optimizer="sgd", loss="mse")
    model.fit((a, b), np.ones(8), epochs=1, verbose=0)
    model.save(tmp_path / "t.safetensors")
    loaded = load_model(tmp_path / "t.safetensors")
    assert isinstance(loaded, TwoTower) and loaded.get_config() == {"units": 5}
    np.testing.assert_array_equal(model.predict((a, b)), loaded.predict((a, b)))


def test_a_same_named_class_defined_later_does_not_capture_the_saved_model(tmp_path: Path) -> None:
    # A user's own "TwoTower" (here defined after the module-level one) must not be what
    # load_model rebuilds from a file that recorded this module's TwoTower; CI caught the
    # translation task's Seq2Seq being replaced by a test's local Seq2Seq this way.
    TwoTower(units=3).save(tmp_path / "t.safetensors")

    def other_init(self: Model, other: int = 1) -> None:
        Model.__init__(self)

    clash = type("TwoTower", (Model,), {"__init__": other_init, "__qualname__": "local.TwoTower"})
    try:
        assert saving.MODELS["TwoTower"] is clash
        loaded = load_model(tmp_path / "t.safetensors")
        assert type(loaded) is TwoTower and loaded.get_config() == {"units": 3}
    finally:
        saving.register_model(TwoTower)  # leave the registry as other tests expect it


def test_truncated_or_corrupted_checkpoints_raise_checkpoint_error(tmp_path: Path) -> None:
    _, path = _trained(tmp_path)
    raw = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError) as e:
        load_model(cut)
    assert str(e.value) == (
        f"{str(cut)!r} is not a readable rnnkit checkpoint ({len(raw) // 2} bytes that do not parse): it is "
        "truncated or corrupted, for instance by an interrupted copy. Use an earlier checkpoint."
    )
    flipped = bytearray(raw)
    flipped[-5] ^= 0xFF  # one byte of weight data: safetensors alone would load it silently
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError) as e:
        load_model(bad)
    assert "(checksum mismatch): it is truncated or corrupted" in str(e.value)
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"\(empty file\)"):
        load_model(empty)
    with pytest.raises(CheckpointError) as e:
        load_model(tmp_path / "missing.safetensors")
    assert (
        str(e.value)
        == f"no checkpoint at {str(tmp_path / 'missing.safetensors')!r}: the file does not exist."
    )
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(CheckpointError) as e:
        load_model(other)
    assert str(e.value) == f"format of {str(other)!r}=None is not valid: expected one of 'rnnkit.model/1'."


def test_a_crash_during_save_leaves_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, path = _trained(tmp_path)
    before = path.read_bytes()

    def crash(*args: object) -> None:
        raise KeyboardInterrupt  # the process dies between writing the temp file and the rename

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]  # no temp file left


def test_weights_are_plain_safetensors_and_nothing_is_unpickled(tmp_path: Path) -> None:
    model, path = _trained(tmp_path)
    tensors = load_file(str(path))  # any safetensors reader opens it
    assert set(model.state_dict()) == {
        k.removeprefix("weights/") for k in tensors if k.startswith("weights/")
    }
    src = Path(saving.__file__).read_text()
    assert "pickle" not in src.replace("unpickled", "").replace("no pickle", "") and "torch.load" not in src


def _run(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "KERAS_BACKEND": "torch"}
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], env=env, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_gives_bit_identical_weights(tmp_path: Path) -> None:
    epochs = "30"
    whole = _run(str(tmp_path / "whole"), str(tmp_path / "whole.safetensors"), epochs)

    victim = _run(str(tmp_path / "backup"), str(tmp_path / "resumed.safetensors"), epochs)
    backup = tmp_path / "backup" / "backup.safetensors"
    deadline = time.monotonic() + 120
    while not backup.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # a few more epochs: it may be killed in the middle of a save
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    assert victim.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (tmp_path / "resumed.safetensors").exists()

    resumed = _run(str(tmp_path / "backup"), str(tmp_path / "resumed.safetensors"), epochs)
    for p in (whole, resumed):
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()
    a = load_file(str(tmp_path / "whole.safetensors"))
    b = load_file(str(tmp_path / "resumed.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
