"""The import layering (core -> kernels -> layers -> models -> tasks -> cli/server) holds:
the .importlinter contracts are kept, a reversed layer is caught, and the low layers pull
nothing from above them at run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter")
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"


def test_the_contracts_are_kept():
    assert lint_imports(config_filename=str(CONFIG), no_cache=True) == 0


def test_a_reversed_layer_is_caught(tmp_path):
    """The tool is not a no-op: with core above kernels, kernels' imports of core break it."""
    text = CONFIG.read_text()
    kernels, core = "    rnnkit.kernels\n", "    rnnkit.core\n"
    swapped = text.replace(kernels, "@K@").replace(core, kernels).replace("@K@", core)
    assert swapped != text
    bad = tmp_path / "swapped.ini"
    bad.write_text(swapped)
    assert lint_imports(config_filename=str(bad), no_cache=True) == 1


def test_the_low_layers_import_nothing_above_them():
    code = (
        "import sys, rnnkit.core, rnnkit.kernels, rnnkit.layers, rnnkit.utils.io\n"
        "print(' '.join(sorted({m.split('.')[1] for m in sys.modules if m.startswith('rnnkit.')})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(out.stdout.split())
    assert loaded <= {"core", "kernels", "layers", "errors", "utils", "config"}, loaded
