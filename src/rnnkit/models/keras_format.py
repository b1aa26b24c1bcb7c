"""Real Keras files: ``.keras`` (Keras 3) read and written, legacy Keras 2 ``.h5`` read.

A ``.keras`` file is a zip of ``config.json`` (the model: class, layers, graph),
``metadata.json`` and ``model.weights.h5``. In the HDF5 file each layer's weights sit
under ``layers/<snake_case(class name)>[_<k>]`` (counted per class name, in
``model.layers`` order: Keras names the groups by class, not by layer name), in
``vars/0, 1, ...`` in Keras's ``get_weights()`` order; a recurrent layer keeps them
in its cell (``cell/vars``), ``Bidirectional`` in ``forward_layer/...`` and
``backward_layer/...``, ``TimeDistributed`` in ``layer/...``. A legacy ``.h5`` keeps the
config in the ``model_config`` attribute and the weights under
``model_weights/<layer name>`` in the order of its ``weight_names`` attribute.

Weights are converted by ``rnnkit.layers.convert`` (``to_keras`` / ``from_keras``:
transposes and gate orders), so what Keras predicts, rnnkit predicts. Keras is not
needed: only ``zipfile``, ``json`` and ``h5py``.

:data:`KERAS_LAYERS` is the one table of the Keras layers rnnkit reads and writes:
Keras class name -> where the layer keeps its weights. A new layer is one line.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.errors import CheckpointError, ConfigError, MissingDependencyError, invalid
from rnnkit.layers.base import LAYERS, Layer, deserialize_layer
from rnnkit.layers.convert import from_keras, to_keras
from rnnkit.layers.core_layers import InputLayer
from rnnkit.models import saving
from rnnkit.models.functional import Functional, functional_from_config, graph_config
from rnnkit.models.sequential import Sequential
from rnnkit.utils.io import atomic_write

# Where a layer's weights sit inside its group of model.weights.h5.
VARS = "vars"  # its own vars/0, vars/1 ...
CELL = "cell"  # a recurrent layer: cell/vars/...
BIDIRECTIONAL = "bidirectional"  # forward_layer/..., backward_layer/...
WRAPPER = "wrapper"  # TimeDistributed: layer/...

#: Keras class name -> weight layout. The rnnkit class is the one with the same name.
KERAS_LAYERS: dict[str, str] = {
    "InputLayer": VARS,
    "Dense": VARS,
    "Embedding": VARS,
    "Dropout": VARS,
    "Masking": VARS,
    "Activation": VARS,
    "SimpleRNN": CELL,
    "LSTM": CELL,
    "GRU": CELL,
    "Bidirectional": BIDIRECTIONAL,
    "TimeDistributed": WRAPPER,
    "GlobalAveragePooling1D": VARS,
    "GlobalMaxPooling1D": VARS,
    "GlobalAveragePooling2D": VARS,
    "GlobalMaxPooling2D": VARS,
    "Conv1D": VARS,
    "Conv2D": VARS,
    "MaxPooling1D": VARS,
    "MaxPooling2D": VARS,
    "AveragePooling1D": VARS,
    "AveragePooling2D": VARS,
    "Flatten": VARS,
    "Reshape": VARS,
    "Permute": VARS,
    "RepeatVector": VARS,
    "BatchNormalization": VARS,
    "LayerNormalization": VARS,
    "Concatenate": VARS,
    "Add": VARS,
    "Multiply": VARS,
    "Average": VARS,
    "SpatialDropout1D": VARS,
    "Attention": VARS,
    "AdditiveAttention": VARS,
    "ConvLSTM1D": CELL,
    "ConvLSTM2D": CELL,
}

# rnnkit-only constructor arguments -> the value that means "as Keras": a .keras file can
# carry the layer only at that value (Keras would refuse or ignore the key otherwise).
_RNNKIT_ONLY = {"zoneout": 0.0, "layer_norm": False}
_DROPPED_ON_WRITE = {"use_fused"}  # kernel choice only: the same function either way
# Keras keys rnnkit has no use for (Keras 3's and Keras 2's); a non-default one is refused.
_KERAS_ONLY_DEFAULTS: dict[str, Any] = {
    "quantization_config": None,
    "lora_rank": None,
    "lora_alpha": None,
    "implementation": None,  # Keras 2 RNN kernels: 1 or 2 compute the same function
    "time_major": False,
    "input_length": None,
    "autocast": True,
}


def _snake(name: str) -> str:
    """Keras's ``naming.to_snake_case`` (LSTM -> lstm, SimpleRNN -> simple_rnn, Conv1D -> conv1d)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is a dependency of the keras extra
        raise MissingDependencyError("reading or writing Keras files needs h5py: pip install h5py") from exc
    return h5py


# ---------------------------------------------------------------------- configs: Keras -> rnnkit
def _layer_cls(class_name: str) -> type[Layer]:
    if class_name not in KERAS_LAYERS or class_name not in LAYERS:
        supported = sorted(k for k in KERAS_LAYERS if k in LAYERS)
        raise ConfigError(invalid("Keras layer", class_name, supported))
    return LAYERS[class_name]


def _from_keras_config(config: dict[str, Any]) -> dict[str, Any]:
    """A Keras layer config -> the arguments rnnkit's layer of the same name takes."""
    out = {}
    for key, value in config.items():
        if key == "dtype":
            name = value.get("config", {}).get("name") if isinstance(value, dict) else value
            if name not in (None, "float32"):
                raise ConfigError(invalid("dtype policy", name, "float32 (rnnkit follows the input's dtype)"))
            continue
        if key in _KERAS_ONLY_DEFAULTS:
            if value not in (_KERAS_ONLY_DEFAULTS[key], None) and key != "implementation":
                raise ConfigError(invalid(key, value, f"{_KERAS_ONLY_DEFAULTS[key]!r} (rnnkit has no {key})"))
            continue
        if key in ("batch_input_shape", "batch_shape") and "name" in config:
            continue  # Keras 2's first-layer input shape: the model reads it
        if (
            isinstance(value, dict)
            and "class_name" in value
            and "config" in value
            and value["class_name"] in LAYERS
        ):
            value = keras_to_rnnkit_entry(value)  # a wrapped layer (Bidirectional, TimeDistributed)
        out[key] = value
    return out


def keras_to_rnnkit_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """``{"class_name", "config", "build_config"}`` of Keras -> the same dict for rnnkit's layers."""
    _layer_cls(entry["class_name"])
    build = entry.get("build_config") or {}
    return {
        "class_name": entry["class_name"],
        "config": _from_keras_config(entry["config"]),
        "build_config": {"input_shape": build.get("input_shape")},
    }


def _deserialize_keras(entry: dict[str, Any]) -> Layer:
    return deserialize_layer(keras_to_rnnkit_entry(entry))


def model_from_keras_config(data: dict[str, Any]) -> Sequential | Functional:
    """A Keras ``{"class_name": "Sequential"|"Functional"|"Model", "config"}`` -> an rnnkit model."""
    kind = data.get("class_name")
    config = data.get("config") or {}
    if kind == "Sequential":
        model = Sequential(name=config.get("name"))
        layers = config.get("layers", [])
        first_shape = config.get("build_input_shape")
        if layers and layers[0].get("class_name") != "InputLayer":
            # Keras 2 puts the input shape on the first layer (batch_input_shape).
            first_shape = layers[0]["config"].get("batch_input_shape") or first_shape
        for entry in layers:
            if entry.get("class_name") == "InputLayer":
                cfg = {
                    k: v
                    for k, v in entry["config"].items()
                    if k in ("batch_shape", "batch_input_shape", "dtype", "name")
                }
                if "batch_input_shape" in cfg:
                    cfg["batch_shape"] = cfg.pop("batch_input_shape")
                model.add(InputLayer(**cfg))
            else:
                model.layers.append(_deserialize_keras(entry))
        if model.input_spec is None and first_shape is not None:
            model.input_spec = tuple(first_shape)
        if model.input_spec is not None:
            model.build(model.input_spec)
        return model
    if kind in ("Functional", "Model"):
        return functional_from_config(_keras2_inputs(config), _deserialize_keras)
    raise ConfigError(
        invalid("model class", kind, "Sequential or Functional (subclassed Keras models need their code)")
    )


def _keras2_inputs(config: dict[str, Any]) -> dict[str, Any]:
    """Keras 2 InputLayers carry ``batch_input_shape``; Keras 3 ``batch_shape``."""
    layers = []
    for entry in config.get("layers", []):
        if entry.get("class_name") == "InputLayer":
            cfg = dict(entry["config"])
            if "batch_input_shape" in cfg:
                cfg["batch_shape"] = cfg.pop("batch_input_shape")
            cfg = {k: v for k, v in cfg.items() if k in ("batch_shape", "dtype", "name")}
            entry = {**entry, "config": cfg}
        layers.append(entry)
    return {**config, "layers": layers}


# ---------------------------------------------------------------------- configs: rnnkit -> Keras
def _to_keras_config(layer: Layer) -> dict[str, Any]:
    config = layer.get_config()
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key in _DROPPED_ON_WRITE:
            continue
        if key in _RNNKIT_ONLY:
            if value != _RNNKIT_ONLY[key]:
                raise ConfigError(
                    invalid(
                        f"{key} of layer {layer.name!r}",
                        value,
                        f"{_RNNKIT_ONLY[key]!r} in a .keras file (Keras has no {key}); save as .safetensors",
                    )
                )
            continue
        if key in ("layer", "backward_layer") and isinstance(value, dict) and "class_name" in value:
            # Bidirectional keeps its wrapped layers as forward_layer/backward_layer, TimeDistributed as layer
            inner = getattr(layer, "forward_layer" if key == "layer" else key, None) or layer.layer  # type: ignore[attr-defined]
            value = keras_entry(inner)
        out[key] = value
    return out


def keras_entry(layer: Layer) -> dict[str, Any]:
    """The ``{"module", "class_name", "config", "build_config"}`` Keras writes for a layer."""
    name = type(layer).__name__
    if name not in KERAS_LAYERS:
        raise ConfigError(
            invalid(
                "layer", f"{layer.name} ({name})", "a layer Keras has: " + ", ".join(sorted(KERAS_LAYERS))
            )
        )
    entry: dict[str, Any] = {
        "module": "keras.layers",
        "class_name": name,
        "config": _to_keras_config(layer),
        "registered_name": None,
    }
    if layer.built and layer.build_input_shape is not None and not isinstance(layer, InputLayer):
        shape = layer.build_input_shape
        entry["build_config"] = {
            "input_shape": [list(s) for s in shape]
            if shape and isinstance(shape[0], (list, tuple))
            else list(shape)
        }
    return entry


def keras_model_config(model: Any) -> dict[str, Any]:
    if isinstance(model, Functional):
        return {
            "module": "keras.src.models.functional",
            "class_name": "Functional",
            "config": graph_config(model, keras_entry),
            "registered_name": "Functional",
            "build_config": {"input_shape": None},
            "compile_config": None,
        }
    if isinstance(model, Sequential):
        for layer in model.layers:
            if not isinstance(layer, Layer):
                raise ConfigError(f"{type(layer).__name__} is a plain torch module: Keras cannot hold it.")
        layers = [keras_entry(layer) for layer in model.layers]  # type: ignore[arg-type]
        shape = model.input_spec
        if shape is None and len(model.layers) and model.layers[0].build_input_shape is not None:
            shape = tuple(model.layers[0].build_input_shape)
        if shape is not None:
            dtype = model.__dict__.get("_input_dtype") or "float32"
            inp = {
                "batch_shape": list(shape),
                "dtype": dtype,
                "sparse": False,
                "ragged": False,
                "name": "input_layer",
            }
            layers.insert(
                0,
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": inp,
                    "registered_name": None,
                },
            )
        return {
            "module": "keras",
            "class_name": "Sequential",
            "config": {
                "name": model.name,
                "trainable": True,
                "layers": layers,
                "build_input_shape": None if shape is None else list(shape),
            },
            "registered_name": None,
            "build_config": {"input_shape": None if shape is None else list(shape)},
            "compile_config": None,
        }
    return {}  # a subclassed model: see save_keras


# ---------------------------------------------------------------------- weights
def _paths(layer: Any) -> list[tuple[str, Any]]:
    """[(sub-path inside the layer's group, the layer whose Keras weights go there)], in order."""
    kind = KERAS_LAYERS.get(type(layer).__name__, VARS)
    if kind == BIDIRECTIONAL:
        fwd = [(f"forward_layer/{p}", sub) for p, sub in _paths(layer.forward_layer)]
        return fwd + [(f"backward_layer/{p}", sub) for p, sub in _paths(layer.backward_layer)]
    if kind == WRAPPER:
        return [(f"layer/{p}", sub) for p, sub in _paths(layer.layer)]
    return [("cell/vars" if kind == CELL else "vars", layer)]


def _keras_layers(model: Any) -> list[Layer]:
    return [layer for layer in model.layers if isinstance(layer, Layer)]


def _group_names(layers: list[Layer]) -> list[str]:
    counts: dict[str, int] = {}
    names = []
    for layer in layers:
        base = _snake(type(layer).__name__)
        k = counts.get(base, -1) + 1
        counts[base] = k
        names.append(base if k == 0 else f"{base}_{k}")
    return names


def write_weights_h5(model: Any) -> bytes:
    """``model.weights.h5`` in Keras 3's layout."""
    h5py = _h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        layers = _keras_layers(model)
        if isinstance(model, Sequential):
            layers = [layer for layer in layers if not isinstance(layer, InputLayer)]
        for layer, group in zip(layers, _group_names(layers), strict=True):
            base = f.create_group(f"layers/{group}")
            base.create_group("vars").attrs["name"] = layer.name
            for sub, owner in _paths(layer):
                if sub.count("/") > 1:  # forward_layer/cell/vars: the wrapped layer's own vars too
                    base.require_group(sub.split("/")[0] + "/vars").attrs["name"] = owner.name
                g = base.require_group(sub)
                g.attrs["name"] = (
                    f"{_snake(type(owner).__name__)}_cell" if sub.endswith("cell/vars") else owner.name
                )
                for i, w in enumerate(_keras_weights(owner)):
                    g.create_dataset(str(i), data=np.asarray(w))
        f.create_group("vars").attrs["name"] = model.name
    return buf.getvalue()


def _keras_weights(layer: Any) -> list[np.ndarray]:
    if type(layer).__name__ == "TimeDistributed":
        return _keras_weights(layer.layer)
    if not any(True for _ in layer.parameters()) and not list(layer.buffers()):
        return []
    return to_keras(layer)


def read_weights_h5(model: Any, data: bytes | Path, source: str) -> None:
    """Load Keras 3's ``model.weights.h5`` (bytes or a path) into ``model``."""
    h5py = _h5py()
    with h5py.File(io.BytesIO(data) if isinstance(data, bytes) else data, "r") as f:
        layers = _keras_layers(model)
        if isinstance(model, Sequential):
            layers = [layer for layer in layers if not isinstance(layer, InputLayer)]
        for layer, group in zip(layers, _group_names(layers), strict=True):
            for sub, owner in _paths(layer):
                path = f"layers/{group}/{sub}"
                g = f.get(path)
                arrays = [] if g is None else [g[str(i)][()] for i in range(len(g))]
                _set_keras_weights(owner, arrays, f"{source}:{path}")


def _set_keras_weights(layer: Any, arrays: list[np.ndarray], where: str) -> None:
    if type(layer).__name__ == "TimeDistributed":
        _set_keras_weights(layer.layer, arrays, where)
        return
    expected = _keras_weights(layer)
    if len(arrays) != len(expected):
        raise CheckpointError(
            f"{where} holds {len(arrays)} weights; layer {layer.name!r} ({type(layer).__name__}) "
            f"has {len(expected)}."
        )
    for a, e in zip(arrays, expected, strict=True):
        if tuple(a.shape) != tuple(e.shape):
            raise CheckpointError(
                f"{where}: a weight of shape {tuple(a.shape)} where layer {layer.name!r} "
                f"has {tuple(e.shape)}."
            )
    if arrays:
        from_keras(layer, arrays)


# ---------------------------------------------------------------------- files
def save_keras(model: Any, path: Path) -> None:
    """Write a Keras 3 ``.keras`` archive (zip) atomically.

    Sequential and functional models are written as Keras writes them (Keras opens them).
    A subclassed rnnkit model is written as Keras writes a subclassed model: its class and
    constructor config in ``config.json`` (``registered_name`` ``rnnkit>Class``), its weights
    in ``model.weights.h5`` (by ``state_dict`` name); as with Keras's own subclassed models,
    only code that defines the class (rnnkit) can rebuild it.
    """
    config = keras_model_config(model)
    weights: bytes
    if config:
        weights = write_weights_h5(model)
    else:
        native = saving.model_config(model)
        config = {
            "module": type(model).__module__,
            "class_name": type(model).__name__,
            "config": native["config"],
            "registered_name": f"rnnkit>{type(model).__name__}",
            "rnnkit_class_path": native["class_path"],
            "rnnkit_layer_shapes": native["layer_shapes"],
        }
        weights = _write_state_h5(model)
    metadata = {
        "keras_version": "3.15.1",
        "date_saved": datetime.now(timezone.utc).strftime("%Y-%m-%d@%H:%M:%S"),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("metadata.json", json.dumps(metadata))
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", weights)
    atomic_write(path, buf.getvalue())


def _write_state_h5(model: Any) -> bytes:
    h5py = _h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for key, value in model.state_dict().items():
            f.create_dataset(f"rnnkit_state/{key}", data=value.detach().cpu().numpy())
    return buf.getvalue()


def load_keras(path: Path, custom_objects: dict[str, Any] | None = None) -> Any:
    """Read a ``.keras`` archive: config + weights (the optimizer state is not read)."""
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
            weights = z.read("model.weights.h5")
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{str(path)!r} is not a readable .keras file: {exc}") from exc
    if str(config.get("registered_name") or "").startswith("rnnkit>"):
        return _load_subclassed(config, weights, path, custom_objects)
    model = model_from_keras_config(config)
    read_weights_h5(model, weights, str(path))
    return model


def _load_subclassed(config: dict[str, Any], weights: bytes, path: Path, custom_objects: Any) -> Any:
    cls = saving.model_class({**config, "class_path": config.get("rnnkit_class_path", "")}, custom_objects)
    if cls is None:
        raise CheckpointError(
            f"{str(path)!r} holds a {config['class_name']!r} model, a class that is not defined here: "
            f"import {config.get('module')}, or pass custom_objects={{'{config['class_name']}': TheClass}}."
        )
    model = cls.from_config(config["config"])
    saving._build_layers(model, config.get("rnnkit_layer_shapes", {}))
    h5py = _h5py()
    with h5py.File(io.BytesIO(weights), "r") as f:
        group = f.get("rnnkit_state")
        state = {}
        if group is not None:
            group.visititems(
                lambda n, o: (
                    state.__setitem__(n, torch.from_numpy(o[()])) if isinstance(o, h5py.Dataset) else None
                )
            )
    saving._load_weights_into(model, {f"weights/{k}": v for k, v in state.items()}, path)
    return model


def load_legacy_h5(path: Path, custom_objects: dict[str, Any] | None = None) -> Any:
    """Read a Keras 2 style ``.h5`` (also what Keras 3 writes for ``.h5``): config + weights."""
    h5py = _h5py()
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise CheckpointError(f"{str(path)!r} is not a readable HDF5 file: {exc}") from exc
    with f:
        raw = f.attrs.get("model_config")
        if raw is None:
            raise CheckpointError(
                f"{str(path)!r} holds weights only (no model_config): build the model, then load_weights()."
            )
        model = model_from_keras_config(json.loads(raw if isinstance(raw, str) else raw.decode()))
        weights = f.get("model_weights", f)
        by_name = {layer.name: layer for layer in _keras_layers(model)}
        for name in weights.attrs.get("layer_names", []):
            name = name.decode() if isinstance(name, bytes) else str(name)
            g = weights[name]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs.get("weight_names", [])]
            arrays = [g[n][()] for n in names]
            layer = by_name.get(name)
            if layer is None:
                if arrays:
                    raise CheckpointError(
                        f"{str(path)!r}: weights for layer {name!r}, which the config lacks."
                    )
                continue
            _set_keras_weights(layer, arrays, f"{path}:model_weights/{name}")
    return model


def _save_weights_h5(model: Any, path: Path) -> None:
    if not isinstance(model, (Sequential, Functional)):
        raise ConfigError(
            invalid("model", type(model).__name__, "a Sequential or functional Model for .weights.h5")
        )
    atomic_write(path, write_weights_h5(model))


def _load_weights_h5(model: Any, path: Path) -> None:
    read_weights_h5(model, path.read_bytes(), str(path))


saving.FORMATS[".keras"] = {"save": save_keras, "load": load_keras}
saving.FORMATS[".h5"] = saving.FORMATS[".hdf5"] = {"load": load_legacy_h5}
saving.FORMATS[".weights.h5"] = {"save_weights": _save_weights_h5, "load_weights": _load_weights_h5}
