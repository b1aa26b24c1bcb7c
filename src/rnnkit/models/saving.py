"""Save and load models: one safetensors file, written atomically, never unpickled.

File layout (``model.save(path)``; any file name, ``.safetensors`` recommended):

- tensors ``weights/<state_dict key>``: the weights and buffers;
- tensors ``optimizer/<param index>/<key>`` and ``rng/...`` when present;
- metadata (strings): ``format`` ("rnnkit.model/1"), ``model`` (JSON: class, config
  and each layer's build shape), ``compile`` (JSON), ``optimizer`` (JSON: param
  groups and scalar state), ``epoch``, ``rng`` (JSON), and ``sha256`` over all of
  the above, so a flipped byte is caught and not silently loaded.

Writes go through :func:`rnnkit.utils.io.atomic_write`: a process killed mid-save
leaves the previous checkpoint intact.
Reading parses JSON and raw tensors only (``safetensors``): no pickle anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from rnnkit import losses as losses_mod
from rnnkit import metrics as metrics_mod
from rnnkit import optimizers as optimizers_mod
from rnnkit.errors import CheckpointError, ConfigError, invalid
from rnnkit.layers.base import Layer, _as_shape
from rnnkit.utils.io import atomic_write

# Other file formats, by file-name suffix: {"save", "load", "save_weights", "load_weights"}.
# rnnkit.models.keras_format registers ".keras", ".h5", ".hdf5" and ".weights.h5" when
# rnnkit.models is imported (it imports this module, so this module cannot import it).
FORMATS: dict[str, dict[str, Any]] = {}
# Exporters by format name ("onnx": rnnkit.models.onnx_export registers it), for model.export.
EXPORTERS: dict[str, Any] = {}
# Suffixes that name another tool's format: writing rnnkit's format under them would lie.
_REFUSED = {
    ".h5": "rnnkit reads Keras .h5 files but writes Keras 3's .keras",
    ".hdf5": "rnnkit reads Keras .hdf5 files but writes Keras 3's .keras",
    ".weights.h5": "a .weights.h5 name holds weights only: use save_weights()",
    ".keras": "a .keras file holds a whole model: use save()",
    ".onnx": "use model.export(path) for ONNX",
    ".pt": "torch.save's format is not written (loading it can run code)",
    ".pth": "torch.save's format is not written (loading it can run code)",
    ".pkl": "Python object dumps are not written (loading them can run code)",
    ".json": "use to_json() for the config alone",
}

# Model classes by name, so load_model rebuilds a subclass from its saved class name.
# ``Model.__init_subclass__`` fills it; it lives here (not in model.py) so that model.py
# imports saving and saving never imports model.
MODELS: dict[str, type] = {}
# The same classes by "module.qualname". A file records both names and loading prefers this
# one, so a user's own class that happens to share a name (a ``Seq2Seq`` of their own) never
# replaces the library's when its checkpoints are read back.
MODELS_BY_PATH: dict[str, type] = {}


def class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def class_entry(model: Any) -> dict[str, Any]:
    """What names a model and rebuilds it (:func:`model_class`, then ``from_config``): the entry
    of a saved file, of ``to_json`` and of a model used as a layer in a functional graph."""
    cls = type(model)
    return {"class_name": cls.__name__, "class_path": class_path(cls), "config": model.get_config()}


def register_model(cls: type) -> None:
    MODELS[cls.__name__] = cls
    MODELS_BY_PATH[class_path(cls)] = cls


def model_class(cfg: dict[str, Any], custom_objects: dict[str, Any] | None) -> Any:
    """The class a saved config names: ``custom_objects`` first, then its module path, then its name."""
    name = cfg.get("class_name")
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    return MODELS_BY_PATH.get(cfg.get("class_path", "")) or MODELS.get(name)


FORMAT = "rnnkit.model/1"
WEIGHTS_FORMAT = "rnnkit.weights/1"
Tensor = torch.Tensor


def _digest(tensors: dict[str, Tensor], metadata: dict[str, str]) -> str:
    h = hashlib.sha256()
    for key in sorted(metadata):
        h.update(f"{key}={metadata[key]}\0".encode())
    for key in sorted(tensors):
        t = tensors[key].contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _write(path: str | os.PathLike[str], tensors: dict[str, Tensor], metadata: dict[str, str]) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    metadata = {**metadata, "sha256": _digest(tensors, metadata)}
    atomic_write(path, st_save(tensors, metadata=metadata))


def _read(
    path: str | os.PathLike[str], expected_format: str | tuple[str, ...]
) -> tuple[dict[str, Tensor], dict[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {str(path)!r}: the file does not exist.")
    raw = path.read_bytes()
    broken = (
        f"{str(path)!r} is not a readable rnnkit checkpoint ({{}}): it is truncated or corrupted, "
        "for instance by an interrupted copy. Use an earlier checkpoint."
    )
    try:
        tensors = st_load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        metadata = json.loads(raw[8 : 8 + header_len]).get("__metadata__") or {}
    except (SafetensorError, ValueError, UnicodeDecodeError, RuntimeError) as exc:
        reason = "empty file" if not raw else f"{len(raw)} bytes that do not parse"
        raise CheckpointError(broken.format(reason)) from exc
    formats = (expected_format,) if isinstance(expected_format, str) else expected_format
    if metadata.get("format") not in formats:
        raise CheckpointError(invalid(f"format of {str(path)!r}", metadata.get("format"), list(formats)))
    digest = metadata.pop("sha256", None)
    if digest != _digest(tensors, metadata):
        raise CheckpointError(broken.format("checksum mismatch"))
    return tensors, metadata


# ------------------------------------------------------------------ model config
def _layer_shapes(model: torch.nn.Module) -> dict[str, Any]:
    """Each rnnkit layer's build shape, by module path, so load can build before loading weights."""
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, Layer) and m.built and m.build_input_shape is not None:
            out[name] = _jsonable_shape(m.build_input_shape)
    return out


def _jsonable_shape(shape: Any) -> Any:
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [list(s) for s in shape]
    return list(shape)


def model_config(model: Any) -> dict[str, Any]:
    return {**class_entry(model), "layer_shapes": _layer_shapes(model)}


def _compile_config(model: Any) -> dict[str, Any] | None:
    if not getattr(model, "compiled", False):
        return None

    def loss_cfg(loss: Any) -> Any:
        if isinstance(loss, dict):
            return {k: loss_cfg(v) for k, v in loss.items()}
        if isinstance(loss, list):
            return [loss_cfg(v) for v in loss]
        return None if loss is None else losses_mod.serialize(loss)

    metrics: list[Any] = []
    for m in model._metric_spec:
        if isinstance(m, str):
            metrics.append(m)
        elif isinstance(m, metrics_mod.Metric) and metrics_mod.serialize(m) is not None:
            metrics.append(metrics_mod.serialize(m))
        else:
            return None  # a user function: the model loads uncompiled
    if optimizers_mod.serialize(model.optimizer) is None:
        return None  # a user's torch optimizer: the model loads uncompiled
    loss = loss_cfg(model.compiled_loss)
    if model.compiled_loss is not None and loss is None:
        return None
    return {
        "optimizer": optimizers_mod.serialize(model.optimizer),
        "loss": loss,
        "metrics": metrics,
        "loss_weights": model._loss_weights,
        "mixed_precision": model.mixed_precision,
    }


# ------------------------------------------------------------------ optimizer and RNG state
def _optimizer_state(model: Any) -> tuple[dict[str, Tensor], dict[str, Any]] | None:
    opt = getattr(model.optimizer, "torch_optimizer", None) if getattr(model, "optimizer", None) else None
    if opt is None:
        return None
    sd = opt.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, Tensor):
                tensors[f"optimizer/{idx}/{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def _load_optimizer_state(model: Any, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    opt = model.optimizer.torch_optimizer
    device = next(model.parameters()).device
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer/"):
            _, idx, name = key.split("/", 2)
            # 'step' stays on the CPU, as torch keeps it unless capturable/fused
            state.setdefault(int(idx), {})[name] = value if name == "step" else value.to(device)
    for idx, scalars in meta["scalars"].items():
        state.setdefault(int(idx), {}).update(scalars)
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in meta["param_groups"]]
    opt.load_state_dict({"state": state, "param_groups": groups})


def _rng_state() -> tuple[dict[str, Tensor], dict[str, Any]]:
    from rnnkit.utils.seed import get_rng_state

    st = get_rng_state()
    name, keys, pos, has_gauss, gauss = st["numpy"]
    tensors = {"rng/torch": st["torch"], "rng/numpy": torch.from_numpy(np.asarray(keys, dtype=np.int64))}
    for i, s in enumerate(st.get("cuda", [])):
        tensors[f"rng/cuda/{i}"] = s
    version, pystate, pygauss = st["python"]
    meta = {
        "numpy": [name, int(pos), int(has_gauss), float(gauss)],
        "python": [version, list(pystate), pygauss],
    }
    return tensors, meta


def _set_rng_state(tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    from rnnkit.utils.seed import set_rng_state

    name, pos, has_gauss, gauss = meta["numpy"]
    version, pystate, pygauss = meta["python"]
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng/cuda/"))]
    state: dict[str, Any] = {
        "torch": tensors["rng/torch"],
        "numpy": (name, tensors["rng/numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss),
        "python": (version, tuple(pystate), pygauss),
    }
    if cuda:
        state["cuda"] = cuda
    set_rng_state(state)


# ------------------------------------------------------------------ public API
def file_suffix(path: str | os.PathLike[str]) -> str:
    """``.weights.h5`` or the last suffix, lower case."""
    name = Path(path).name.lower()
    return ".weights.h5" if name.endswith(".weights.h5") else Path(name).suffix


def _writable(path: str | os.PathLike[str], op: str) -> str:
    """The suffix to dispatch on; a directory or another tool's suffix is an error."""
    if Path(path).is_dir():
        raise CheckpointError(
            f"cannot {op} to {str(path)!r}: it is a directory. Give a file name inside it, "
            f"e.g. {str(Path(path) / 'model.keras')!r}."
        )
    suffix = file_suffix(path)
    if op not in FORMATS.get(suffix, {}) and suffix in _REFUSED:
        allowed = ".keras or .safetensors" if op == "save" else ".weights.h5 or .safetensors"
        raise ConfigError(invalid("path", str(path), f"a {allowed} file name ({_REFUSED[suffix]})"))
    return suffix


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    include_optimizer: bool = True,
    epoch: int | None = None,
    rng_state: bool = False,
) -> None:
    """Config + weights (+ optimizer state, epoch, RNG states) into one file, atomically.

    ``.keras``: a Keras 3 file (config and weights only). Any other name but another
    tool's suffix (``.h5``, ``.onnx``, ``.pt`` ... are refused): rnnkit's safetensors file.
    """
    suffix = _writable(path, "save")
    if "save" in FORMATS.get(suffix, {}):
        FORMATS[suffix]["save"](model, Path(path))
        return
    tensors = {f"weights/{k}": v for k, v in model.state_dict().items()}
    metadata = {"format": FORMAT, "model": json.dumps(model_config(model))}
    compile_cfg = _compile_config(model)
    metadata["compile"] = json.dumps(compile_cfg)
    if include_optimizer:
        opt = _optimizer_state(model)
        if opt is not None:
            tensors.update(opt[0])
            metadata["optimizer"] = json.dumps(opt[1])
    metadata["epoch"] = str(int(epoch if epoch is not None else getattr(model, "epoch", -1) + 1))
    if rng_state:
        rt, rm = _rng_state()
        tensors.update(rt)
        metadata["rng"] = json.dumps(rm)
    _write(path, tensors, metadata)


def load_model(
    path: str | os.PathLike[str], custom_objects: dict[str, type] | None = None, compile: bool = True
) -> Any:
    """Rebuild a saved model: config, weights and (``compile=True``) its compiled optimizer state.

    ``model.initial_epoch`` is the epoch to resume from: ``fit(..., initial_epoch=model.initial_epoch)``.
    ``.keras`` and Keras's ``.h5`` files are read too (config and weights; not compiled).
    """
    loader = FORMATS.get(file_suffix(path), {}).get("load")
    if loader is not None:
        if not Path(path).is_file():
            raise CheckpointError(f"no model file at {str(path)!r}: the file does not exist.")
        return loader(Path(path), custom_objects)
    tensors, meta = _read(path, FORMAT)
    try:
        cfg = json.loads(meta["model"])
        compile_cfg = json.loads(meta.get("compile", "null"))
    except (KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{str(path)!r} has no readable model config: {exc}") from exc
    cls: Any = model_class(cfg, custom_objects)
    if cls is None:
        raise CheckpointError(
            f"{str(path)!r} holds a {cfg['class_name']!r} model, a class that is not defined here: "
            "import the "
            "module that defines it, or pass custom_objects={'" + cfg["class_name"] + "': TheClass}."
        )
    model = cls.from_config(cfg["config"])
    _build_layers(model, cfg.get("layer_shapes", {}))
    _load_weights_into(model, tensors, path)
    model.initial_epoch = max(0, int(meta.get("epoch", "0")))
    if compile and compile_cfg is not None:
        model.compile(
            optimizer=optimizers_mod.get(compile_cfg["optimizer"]),
            loss=_loss_from(compile_cfg["loss"]),
            metrics=compile_cfg["metrics"],
            loss_weights=compile_cfg.get("loss_weights"),
            mixed_precision=compile_cfg.get("mixed_precision"),
        )
        if "optimizer" in meta:
            model.optimizer.build(model.parameters())
            _load_optimizer_state(model, tensors, json.loads(meta["optimizer"]))
    return model


def _loss_from(cfg: Any) -> Any:
    if cfg is None:
        return None
    if isinstance(cfg, list):
        return [_loss_from(c) for c in cfg]
    if isinstance(cfg, dict) and "class_name" not in cfg:
        return {k: _loss_from(v) for k, v in cfg.items()}
    return losses_mod.get(cfg)


def _build_layers(model: torch.nn.Module, shapes: dict[str, Any]) -> None:
    for name, m in model.named_modules():  # parents first: a wrapper builds its inner layers
        if isinstance(m, Layer) and not m.built and name in shapes:
            m.build(_as_shape(shapes[name]))
            m.built = True
            m.trainable = m._trainable


def _load_weights_into(model: torch.nn.Module, tensors: dict[str, Tensor], path: Any) -> None:
    state = {k.removeprefix("weights/"): v for k, v in tensors.items() if k.startswith("weights/")}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{str(path)!r} does not match this model: missing weights {missing[:5]}, "
            f"unexpected weights {unexpected[:5]}."
        )
    for k, v in state.items():
        if tuple(v.shape) != tuple(expected[k].shape):
            raise CheckpointError(
                f"{str(path)!r} does not match this model: {k} has shape {tuple(v.shape)} in the file, "
                f"{tuple(expected[k].shape)} in the model."
            )
    model.load_state_dict(state)


def restore_training_state(model: Any, path: str | os.PathLike[str]) -> int:
    """Put a checkpoint's weights, optimizer and RNG states into ``model``; return the epoch to run next."""
    tensors, meta = _read(path, FORMAT)
    _load_weights_into(model, tensors, path)
    if "optimizer" in meta and getattr(model, "optimizer", None) is not None:
        if not model.optimizer.built:
            model.optimizer.build(model.parameters())
        _load_optimizer_state(model, tensors, json.loads(meta["optimizer"]))
    if "rng" in meta:
        _set_rng_state(tensors, json.loads(meta["rng"]))
    return int(meta.get("epoch", "0"))


def save_weights(model: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """Only the weights, atomically: a safetensors file any tool can read, or Keras's
    ``.weights.h5`` layout for a name ending in ``.weights.h5``."""
    suffix = _writable(path, "save_weights")
    if "save_weights" in FORMATS.get(suffix, {}):
        FORMATS[suffix]["save_weights"](model, Path(path))
        return
    _write(path, {f"weights/{k}": v for k, v in model.state_dict().items()}, {"format": WEIGHTS_FORMAT})


def load_weights(model: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """Weights from :func:`save_weights` or a full :func:`save_model` file; the model must be built."""
    if any(isinstance(m, Layer) and not m.built for m in model.modules()):
        raise ConfigError(
            "load_weights() needs a built model: call it on data once, or call build(input_shape), first."
        )
    reader = FORMATS.get(file_suffix(path), {}).get("load_weights")
    if reader is not None:
        if not Path(path).is_file():
            raise CheckpointError(f"no weights file at {str(path)!r}: the file does not exist.")
        reader(model, Path(path))
        return
    tensors, _ = _read(path, (WEIGHTS_FORMAT, FORMAT))
    _load_weights_into(model, tensors, path)
