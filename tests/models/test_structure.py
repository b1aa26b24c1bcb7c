"""models/ structure: no import circles, one weights base for Model and Layer, one module per API."""

import ast
from pathlib import Path

import numpy as np
import pytest

import rnnkit.models
from rnnkit import Sequential, layers
from rnnkit.errors import ShapeError

MODELS_DIR = Path(rnnkit.models.__file__).parent


def _import_graph() -> dict[str, set[str]]:
    """rnnkit.models.X -> the rnnkit.models modules it imports (module level or inside functions)."""
    graph: dict[str, set[str]] = {}
    for path in MODELS_DIR.glob("*.py"):
        name = f"rnnkit.models.{path.stem}"
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "rnnkit.models":
                    deps |= {f"rnnkit.models.{a.name}" for a in node.names}
                elif node.module.startswith("rnnkit.models."):
                    deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("rnnkit.models.")}
        graph[name] = deps - {name}
    return graph


def test_no_import_circles_in_models():
    graph = _import_graph()
    assert "rnnkit.models.callbacks" not in graph["rnnkit.models.progress"]
    assert "rnnkit.models.model" not in graph["rnnkit.models.saving"]
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        if node in stack:
            pytest.fail("import circle: " + " -> ".join([*stack[stack.index(node) :], node]))
        if node in done or node not in graph or node.endswith("__init__"):
            return
        for dep in sorted(graph[node]):
            visit(dep, [*stack, node])
        done.add(node)

    for module in sorted(graph):
        visit(module, [])


def test_keras_paths_and_old_paths_are_one_module():
    import rnnkit.models.losses
    import rnnkit.models.metrics
    import rnnkit.models.optimizers

    import rnnkit.losses
    import rnnkit.metrics
    import rnnkit.optimizers

    assert rnnkit.models.losses is rnnkit.losses
    assert rnnkit.models.metrics is rnnkit.metrics
    assert rnnkit.models.optimizers is rnnkit.optimizers
    assert rnnkit.losses.Loss.__module__ == "rnnkit.losses"


def test_model_and_layer_set_weights_check_the_same_way():
    model = Sequential([layers.Dense(3, input_shape=(2,))])
    dense = model.layers[0]
    w = model.get_weights()
    assert model.count_params() == dense.count_params() == 9
    bad_shape = [np.zeros((4, 2), np.float32), w[1]]
    for obj in (model, dense):
        with pytest.raises(ShapeError) as err:
            obj.set_weights(bad_shape)
        assert "weights" in str(err.value) and "(4, 2)" in str(err.value)
        with pytest.raises(ShapeError, match="a list of 1 arrays"):
            obj.set_weights(w[:1])
    model.set_weights([np.ones_like(a) for a in w])
    assert all((a == 1).all() for a in dense.get_weights())
