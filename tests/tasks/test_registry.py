"""The task registry: every task's parts import, names are unique, failures name the task."""

from __future__ import annotations

import dataclasses

import pytest

from rnnkit.config import Config
from rnnkit.errors import ConfigError, MissingDependencyError
from rnnkit.tasks import registry
from rnnkit.tasks.registry import Task


def test_every_registered_task_resolves_its_parts():
    names = registry.names()
    assert len(names) == len(set(names))
    assert {"sentiment", "lm", "forecast"} <= set(names)
    commands: dict[str, str] = {}
    for task in registry.TASKS:
        cfg = task.config_class()
        assert issubclass(cfg, Config) and dataclasses.is_dataclass(cfg)
        cfg()  # the defaults are valid
        assert callable(task.train_function())
        assert hasattr(task.predictor_class(), "load")
        for name in task.command_functions():
            assert name not in commands, f"{name} defined by {commands.get(name)} and {task.name}"
            commands[name] = task.name
    assert {"predict", "suggest", "generate", "forecast", "backtest"} <= set(commands)


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(ConfigError) as err:
        registry.get("translat")
    assert str(err.value).startswith(
        "task='translat' is not valid: expected one of 'sentiment', 'lm', 'forecast'"
    )


def test_an_import_error_names_the_task_and_the_reference():
    broken = Task("ghost", "x", config="rnnkit.tasks.no_such_module:Config", train="x:y", predictor="x:y")
    with pytest.raises(
        ImportError, match=r"^task 'ghost': cannot import config 'rnnkit\.tasks\.no_such_module:Config'"
    ):
        broken.config_class()
    missing_attr = Task("ghost", "x", config="rnnkit.config:NoSuchClass", train="x:y", predictor="x:y")
    with pytest.raises(ImportError, match=r"^task 'ghost': 'rnnkit\.config' has no 'NoSuchClass'"):
        missing_attr.config_class()
    third_party = Task("ghost", "x", config="not_a_real_package_xyz:C", train="x:y", predictor="x:y")
    with pytest.raises(
        MissingDependencyError, match=r"^task 'ghost' needs the package 'not_a_real_package_xyz'"
    ):
        third_party.config_class()


def test_config_and_cli_modules_import_without_torch():
    """`rnnkit --help` must not pay for torch: the registry's config and cli modules stay light."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from rnnkit.tasks import registry\n"
        "for t in registry.TASKS:\n"
        "    t.config_class(); t.command_functions()\n"
        "import rnnkit.cli.main\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_every_preset_in_configs_loads_strictly_for_some_task():
    """A preset is read by `rnnkit train <task> --config FILE`: a typo in one must not hide."""
    from pathlib import Path

    presets = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.toml"))
    assert presets
    for preset in presets:
        errors = []
        for task in registry.TASKS:
            try:
                task.config_class().from_toml(preset, section=task.preset_section)
                break
            except ConfigError as exc:
                errors.append(f"{task.name}: {exc}")
        else:
            raise AssertionError(f"{preset.name} loads for no task: {errors}")
