"""Weight initializers with Keras's names, defaults and fan conventions.

Weights in rnnkit are stored as PyTorch lays them out, ``(out_features, in_features)``,
the transpose of a Keras kernel ``(in, out)``. Fans are computed so that each
initializer draws from the same distribution as its Keras namesake:
fan_in = in_features, fan_out = out_features.

- glorot_uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out))   (Keras default for kernels)
- orthogonal: a (semi-)orthogonal matrix times ``gain``          (Keras default for recurrent kernels)
- zeros / ones / constant, random_uniform / random_normal / truncated_normal,
  glorot_normal, he_*, lecun_*, variance_scaling, identity.
"""

from __future__ import annotations

import inspect
import math
import re
from typing import Any

import torch

from rnnkit.errors import ConfigError, invalid


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    # torch layout: shape = (out, in, *receptive); 1-D weights count as (out,).
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


class Initializer:
    """Base class: ``init(shape, dtype=..., device=..., generator=...) -> Tensor``."""

    def __call__(
        self,
        shape: tuple[int, ...],
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    def _gen(self, generator: torch.Generator | None, device: Any) -> torch.Generator | None:
        seed = getattr(self, "seed", None)
        if generator is None and seed is not None:
            generator = torch.Generator(device=device or "cpu")
            generator.manual_seed(int(seed))
        return generator


class Constant(Initializer):
    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def __call__(self, shape, *, dtype=None, device=None, generator=None):  # type: ignore[no-untyped-def]
        return torch.full(shape, self.value, dtype=dtype, device=device)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class Zeros(Constant):
    def __init__(self) -> None:
        super().__init__(0.0)

    def get_config(self) -> dict[str, Any]:
        return {}


class Ones(Constant):
    def __init__(self) -> None:
        super().__init__(1.0)

    def get_config(self) -> dict[str, Any]:
        return {}


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def __call__(self, shape, *, dtype=None, device=None, generator=None):  # type: ignore[no-untyped-def]
        t = torch.empty(shape, dtype=dtype, device=device)
        return t.uniform_(self.minval, self.maxval, generator=self._gen(generator, device))

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def __call__(self, shape, *, dtype=None, device=None, generator=None):  # type: ignore[no-untyped-def]
        t = torch.empty(shape, dtype=dtype, device=device)
        return t.normal_(self.mean, self.stddev, generator=self._gen(generator, device))

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """Normal truncated at two standard deviations (Keras's rule)."""

    def __call__(self, shape, *, dtype=None, device=None, generator=None):  # type: ignore[no-untyped-def]
        t = torch.empty(shape, dtype=dtype, device=device)
        lo, hi = self.mean - 2 * self.stddev, self.mean + 2 * self.stddev
        return torch.nn.init.trunc_normal_(
            t, self.mean, self.stddev, lo, hi, generator=self._gen(generator, device)
        )


class VarianceScaling(Initializer):
    """scale / n with n = fan_in, fan_out or their mean; normal (truncated) or uniform."""

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ) -> None:
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ConfigError(invalid("mode", mode, ("fan_in", "fan_out", "fan_avg")))
        dists = ("truncated_normal", "untruncated_normal", "uniform")
        if distribution not in dists:
            raise ConfigError(invalid("distribution", distribution, dists))
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def __call__(self, shape, *, dtype=None, device=None, generator=None):  # type: ignore[no-untyped-def]
        fan_in, fan_out = _fans(tuple(shape))
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, n)
        g = self._gen(generator, device)
        t = torch.empty(shape, dtype=dtype, device=device)
        if self.distribution == "uniform":
            lim = math.sqrt(3.0 * var)
            return t.uniform_(-lim, lim, generator=g)
        if self.distribution == "untruncated_normal":
            return t.normal_(0.0, math.sqrt(var), generator=g)
        # 0.879... is the stddev of a unit normal truncated at +-2 (Keras's constant).
        std = math.sqrt(var) / 0.87962566103423978
        return torch.nn.init.trunc_normal_(t, 0.0, std, -2 * std, 2 * std, generator=g)

    def get_config(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
        }


def _scaling(name: str, scale: float, mode: str, distribution: str) -> type[VarianceScaling]:
    def __init__(self: VarianceScaling, seed: int | None = None) -> None:
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self: VarianceScaling) -> dict[str, Any]:
        return {"seed": self.seed}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config})


GlorotUniform = _scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """A random (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014)."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        self.gain, self.seed = gain, seed

    def __call__(self, shape, *, dtype=None, device=None, generator=None):  # type: ignore[no-untyped-def]
        rows, cols = shape[0], math.prod(shape[1:])
        g = self._gen(generator, device)
        a = torch.empty(max(rows, cols), min(rows, cols), dtype=torch.float64, device=device)
        a.normal_(0.0, 1.0, generator=g)
        q, r = torch.linalg.qr(a)
        # Sign fix so the result is uniformly distributed over orthogonal matrices.
        q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).to(dtype or torch.get_default_dtype())

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D only); the IRNN initialization (Le et al. 2015)."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def __call__(self, shape, *, dtype=None, device=None, generator=None):  # type: ignore[no-untyped-def]
        if len(shape) != 2:
            raise ConfigError(invalid("shape", tuple(shape), "a 2-D shape for the identity initializer"))
        return self.gain * torch.eye(shape[0], shape[1], dtype=dtype, device=device)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


INITIALIZERS: dict[str, type[Initializer]] = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_uniform": RandomUniform,
    "random_normal": RandomNormal,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal,
    "identity": Identity,
}
_CLASS_NAMES = {cls: name for name, cls in INITIALIZERS.items()}


def _lookup(name: str) -> type[Initializer] | None:
    """A registry name, or a Keras class name ("GlorotUniform" -> "glorot_uniform"): Keras accepts both,
    and its serialized configs use the class name (``{"class_name": "Constant", ...}``)."""
    return INITIALIZERS.get(name) or INITIALIZERS.get(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower())


def get(identifier: Any, *, argument: str = "initializer") -> Initializer:
    """Resolve a name, a ``{"class_name", "config"}`` dict (rnnkit's or Keras's) or an instance."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _lookup(identifier)
        if cls is None:
            raise ConfigError(invalid(argument, identifier, sorted(INITIALIZERS)))
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _lookup(identifier["class_name"])
        if cls is None:
            raise ConfigError(invalid(argument, identifier["class_name"], sorted(INITIALIZERS)))
        # Keras 3 writes options rnnkit does not have, set to None meaning "the default"
        # (e.g. GlorotUniform's input_axes/output_axes): drop those, keep the rest strict.
        params = inspect.signature(cls.__init__).parameters
        config = {k: v for k, v in (identifier.get("config") or {}).items() if k in params or v is not None}
        return cls(**config)
    raise ConfigError(invalid(argument, identifier, "an initializer name or instance"))


def serialize(init: Initializer) -> dict[str, Any]:
    """``{"class_name": name, "config": {...}}``; inverse of :func:`get`."""
    name = _CLASS_NAMES.get(type(init))
    if name is None:
        raise ConfigError(invalid("initializer", init, "a built-in initializer to be saved"))
    return {"class_name": name, "config": init.get_config()}
