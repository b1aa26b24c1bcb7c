"""``Model``: a ``torch.nn.Module`` with Keras's compile / fit / evaluate / predict / save.

Subclass it as you would ``nn.Module`` (or Keras's ``Model``): create layers in
``__init__``, compute in ``forward`` (or ``call``, Keras's name). Several inputs
arrive as arguments, so an encoder-decoder reads naturally::

    class Seq2Seq(Model):
        def __init__(self, vocab: int, units: int = 64):
            super().__init__()
            self.src_emb = layers.Embedding(vocab, 32, mask_zero=True)
            self.encoder = layers.LSTM(units, return_state=True)
            self.tgt_emb = layers.Embedding(vocab, 32, mask_zero=True)
            self.decoder = layers.LSTM(units, return_sequences=True)
            self.head = layers.Dense(vocab)

        def forward(self, src, tgt_in):
            _, h, c = self.encoder(self.src_emb(src))
            return self.head(self.decoder(self.tgt_emb(tgt_in), initial_state=[h, c]))

    model.fit((src, tgt_in), tgt_out)   # a tuple: several inputs

Constructor arguments that are JSON values (numbers, strings, lists, dicts) are
recorded, so ``save``/``load_model`` rebuild the subclass with no ``get_config``;
a subclass taking other objects overrides ``get_config``/``from_config``.
"""

from __future__ import annotations

import functools
import inspect
import io
import json
import os
from typing import Any, ClassVar

import torch
from torch import nn

from rnnkit.errors import ConfigError, invalid
from rnnkit.layers import symbolic
from rnnkit.layers.base import Layer, Weights, _snake, unique_name
from rnnkit.models import saving
from rnnkit.models.progress import write
from rnnkit.models.saving import MODELS
from rnnkit.models.training import Trainer

__all__ = ["MODELS", "Model"]


class Model(Trainer, Weights, nn.Module):
    """Base class of trainable models (``Sequential`` is one)."""

    _config_args: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        saving.register_model(cls)
        init = cls.__dict__.get("__init__")
        if init is not None:
            cls.__init__ = _record_init_args(init)  # type: ignore[method-assign]

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # Keras: Model(inputs, outputs) makes a functional model (rnnkit.models.functional
        # registers "Functional" in MODELS when rnnkit.models is imported).
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            return super().__new__(MODELS["Functional"])
        return super().__new__(cls)

    def __init__(self, *, name: str | None = None) -> None:
        nn.Module.__init__(self)
        if name is not None and not isinstance(name, str):
            raise ConfigError(invalid("name", name, "a string or None"))
        self.name = name or unique_name(_snake(type(self).__name__))
        self.compiled = False
        self.optimizer = None
        self.compiled_loss = None
        self.stop_training = False
        self.initial_epoch = 0  # set by load_model: the epoch a resumed fit starts from
        self.history: Any = None

    # ------------------------------------------------------------------ calling
    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward() (or call())")

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Called on symbolic tensors: a whole model used as one layer of a functional graph.
        if symbolic.active and symbolic.any_symbolic(args, kwargs):
            return symbolic.symbolic_call(self, args, kwargs)
        return super().__call__(*args, **kwargs)

    # ------------------------------------------------------------------ weights
    @property
    def built(self) -> bool:
        return all(m.built for m in self.modules() if isinstance(m, Layer))

    def regularization_loss(self) -> torch.Tensor | float:
        """Sum of the weight and activity penalties of every layer (``fit`` adds it to the loss)."""
        total: torch.Tensor | float = 0.0
        for m in self.modules():
            if isinstance(m, Layer):
                for pname, reg in m._regularizers.items():
                    total = total + reg(getattr(m, pname))
                for loss in m._activity_losses:
                    total = total + loss
        return total

    @property
    def losses(self) -> list[torch.Tensor]:
        out: list[torch.Tensor] = []
        for m in self.children():
            if isinstance(m, Layer):
                out += m.losses
        return out

    def kernels(self) -> dict[str, Any]:
        """Which kernel each recurrent layer ran last (``layer.last_kernel``), by layer name."""
        return {
            getattr(m, "name", name): m.last_kernel
            for name, m in self.named_modules()
            if getattr(m, "last_kernel", None) is not None
        }

    # ------------------------------------------------------------------ config and saving
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (recorded automatically when they are JSON values)."""
        args = dict(self.__dict__.get("_init_args") or {})
        try:
            json.dumps(args)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{type(self).__name__} was built with arguments that are not JSON values "
                f"({', '.join(sorted(args))}): define get_config() and from_config() to save it."
            ) from exc
        return args

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        return cls(**config)

    def to_json(self, **kwargs: Any) -> str:
        """Keras's ``to_json``: class name and config as JSON, no weights (``models.model_from_json``)."""
        return json.dumps(saving.class_entry(self), **kwargs)

    @property
    def metrics_names(self) -> list[str]:
        """The names of what ``evaluate`` returns, in its order: ``["loss", "accuracy", ...]``.

        (Keras 3 gives ``["loss", "compile_metrics"]`` here; this is Keras 2's per-metric list,
        which is what the names are for.) Metric names are known once a batch has been seen.
        """
        if not getattr(self, "compiled", False):
            return []
        return ["loss", *(m.name for m in self.metrics)]

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        include_optimizer: bool = True,
        epoch: int | None = None,
        rng_state: bool = False,
    ) -> None:
        """Write config (JSON), weights, optimizer state and ``epoch`` to one safetensors file, atomically."""
        saving.save_model(self, path, include_optimizer=include_optimizer, epoch=epoch, rng_state=rng_state)

    def export(self, filepath: str | os.PathLike[str], format: str = "onnx", **kwargs: Any) -> None:
        """Keras's ``export``: ``format="onnx"`` writes an ONNX file (dynamic batch and length);
        see :mod:`rnnkit.models.onnx_export` for the layers and what masks become."""
        exporter = saving.EXPORTERS.get(format)
        if exporter is None:
            raise ConfigError(invalid("format", format, sorted(saving.EXPORTERS)))
        exporter(self, filepath, **kwargs)

    def save_weights(self, path: str | os.PathLike[str]) -> None:
        saving.save_weights(self, path)

    def load_weights(self, path: str | os.PathLike[str]) -> None:
        saving.load_weights(self, path)

    # ------------------------------------------------------------------ summary
    def _summary_rows(self) -> list[tuple[str, str, int]]:
        shapes = self.__dict__.get("_output_shapes") or {}
        rows = []
        for name, child in self.named_children():
            label = f"{getattr(child, 'name', name)} ({type(child).__name__})"
            shape = shapes.get(name)
            rows.append((label, _fmt_shape(shape) if shape is not None else "?", _count(child)))
        return rows

    def summary(
        self, line_length: int | None = None, print_fn: Any = None, show_trainable: bool = False
    ) -> None:
        """Print layers, output shapes and parameter counts, as Keras's ``summary()``."""
        from rich import box
        from rich.console import Console
        from rich.table import Table

        if not self.built:
            raise ConfigError(
                f"model {self.name!r} is not built yet: its weights are created on the first call. "
                "Call it on data (or fit), call build(input_shape), or start a Sequential with "
                "Input(shape=...)."
            )
        table = Table(box=box.HEAVY_HEAD, show_lines=True, show_header=True)
        table.add_column("Layer (type)", no_wrap=True)
        table.add_column("Output Shape", no_wrap=True)
        table.add_column("Param #", justify="right", no_wrap=True)
        if show_trainable:
            table.add_column("Trainable")
        for label, shape, count in self._summary_rows():
            row = [label, shape, f"{count:,}"]
            if show_trainable:
                row.append("Y")
            table.add_row(*row)
        buf = io.StringIO()
        Console(file=buf, width=line_length or 79, color_system=None, force_terminal=False).print(table)
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        total = self.count_params()
        itemsize = next((p.element_size() for p in self.parameters()), 4)
        lines = [f'Model: "{self.name}"', *buf.getvalue().rstrip("\n").split("\n")]
        opt = self.optimizer.torch_optimizer if self.optimizer is not None else None
        opt_params = sum(
            v.numel()
            for st in (opt.state.values() if opt is not None else [])
            for v in st.values()
            if isinstance(v, torch.Tensor) and v.dim() > 0  # moments, not step counters
        )
        lines.append(f" Total params: {total + opt_params:,} ({_bytes((total + opt_params) * itemsize)})")
        lines.append(f" Trainable params: {trainable:,} ({_bytes(trainable * itemsize)})")
        lines.append(
            f" Non-trainable params: {total - trainable:,} ({_bytes((total - trainable) * itemsize)})"
        )
        if opt_params:
            lines.append(f" Optimizer params: {opt_params:,} ({_bytes(opt_params * itemsize)})")
        if print_fn is None:
            print_fn = write
        for line in lines:
            print_fn(line)

    def _prepare(self, first_x: Any) -> None:
        # Record each child's output shape during the pass that builds the weights (for summary()).
        if not self.built and "_output_shapes" not in self.__dict__:
            shapes: dict[str, Any] = {}
            hooks = [
                child.register_forward_hook(functools.partial(_record_shape, shapes, name))
                for name, child in self.named_children()
            ]
            try:
                super()._prepare(first_x)
            finally:
                for h in hooks:
                    h.remove()
            self._output_shapes = shapes
        else:
            super()._prepare(first_x)


def _record_shape(store: dict[str, Any], name: str, module: nn.Module, inputs: Any, output: Any) -> None:
    store[name] = _shape_of(output)


def _shape_of(output: Any) -> Any:
    if isinstance(output, torch.Tensor):
        return (None, *output.shape[1:])
    if isinstance(output, (tuple, list)):
        return [_shape_of(o) for o in output]
    return None


def _fmt_shape(shape: Any) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(_fmt_shape(s) for s in shape) + "]"
    if shape is None:
        return "?"
    return (
        "("
        + ", ".join("None" if d is None else str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.2f} GB"


def _record_init_args(init: Any) -> Any:
    """Wrap a subclass ``__init__`` to keep its arguments (the outermost call's) for get_config."""
    sig = inspect.signature(init)

    @functools.wraps(init)
    def wrapped(self: Model, *args: Any, **kwargs: Any) -> None:
        if "_init_args" not in self.__dict__:
            bound = sig.bind(self, *args, **kwargs)
            params = dict(bound.arguments)
            params.pop(next(iter(sig.parameters)))  # self
            for pname, p in sig.parameters.items():
                if p.kind is inspect.Parameter.VAR_KEYWORD and pname in params:
                    params.update(params.pop(pname))
                elif p.kind is inspect.Parameter.VAR_POSITIONAL:
                    params.pop(pname, None)
            object.__setattr__(self, "_init_args", params)
        init(self, *args, **kwargs)

    return wrapped
