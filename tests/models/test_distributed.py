"""Two processes under torchrun (gloo, CPU) follow the single-process loss curve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "scripts" / "train_ddp.py"


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "KERAS_BACKEND": "torch"}


@pytest.mark.slow
def test_two_process_torchrun_follows_the_single_process_loss_curve(tmp_path: Path) -> None:
    single = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "single.json"), str(tmp_path / "single.safetensors")],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert single.returncode == 0, single.stderr
    ddp = subprocess.run(
        [
            sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            str(SCRIPT), str(tmp_path / "ddp.json"), str(tmp_path / "ddp.safetensors"),
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one = json.loads((tmp_path / "single.json").read_text())
    two = json.loads((tmp_path / "ddp.json").read_text())
    assert one["world"] == 1 and two["world"] == 2
    # Each global batch is split between the processes and DDP averages the gradients,
    # so the curves agree up to float summation order.
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        assert two["history"][key] == pytest.approx(one["history"][key], rel=1e-4, abs=1e-5), key
    assert one["history"]["loss"][-1] < one["history"]["loss"][0]
    # only rank 0 printed the progress, and wrote the checkpoint
    assert ddp.stdout.count("Epoch 1/4") == 1
    assert (tmp_path / "ddp.safetensors").exists()
