"""One config system for every task: dataclass configs, strict from dicts, TOML presets and flags.

A task's config is a ``@dataclass`` deriving from :class:`Config`; each field has a default
and a comment saying why, and ``__post_init__`` checks the values with the validators below::

    @dataclass
    class SentimentConfig(Config):
        units: int = 128      # recurrent units per direction
        dropout: float = 0.3  # before the classifier

        def __post_init__(self) -> None:
            positive_int("units", self.units)
            rate("dropout", self.dropout)

    cfg = SentimentConfig.from_toml("configs/sentiment.toml", {"units": 64})
    SentimentConfig.from_dict({"unit": 64})
    # ConfigError: config key='unit' is not valid: expected one of 'dropout', 'units'.

Strict everywhere: an unknown key (in a dict, a TOML file or ``--set key=value``) is an
error naming the allowed keys, so a typo never trains with a silent default. This module
imports no torch: ``rnnkit <command> --help`` builds its options from configs.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import tomllib

from rnnkit.errors import ConfigError, invalid

__all__ = [
    "Config",
    "choice",
    "existing_path",
    "field_types",
    "non_negative_int",
    "parse_value",
    "positive_float",
    "positive_int",
    "rate",
]

C = TypeVar("C", bound="Config")


# ---------------------------------------------------------------------------- validators
# Each returns the value it accepted, so ``x = positive_int("x", x)`` reads naturally.
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(name: str, value: Any, *, allow_none: bool = False) -> Any:
    """An integer >= 1 (``None`` too when ``allow_none``)."""
    if value is None and allow_none:
        return value
    if not _is_int(value) or value < 1:
        raise ConfigError(invalid(name, value, "an integer >= 1" + (" or None" if allow_none else "")))
    return value


def non_negative_int(name: str, value: Any, *, allow_none: bool = False) -> Any:
    """An integer >= 0 (``None`` too when ``allow_none``)."""
    if value is None and allow_none:
        return value
    if not _is_int(value) or value < 0:
        raise ConfigError(invalid(name, value, "an integer >= 0" + (" or None" if allow_none else "")))
    return value


def rate(name: str, value: Any) -> float:
    """A fraction in [0, 1) -- a dropout rate (1 would drop everything)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(invalid(name, value, "a number in [0, 1)"))
    return float(value)


def positive_float(name: str, value: Any, *, allow_none: bool = False) -> Any:
    """A finite number > 0 (``None`` too when ``allow_none``)."""
    if value is None and allow_none:
        return value
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not 0 < value < float("inf"):
        raise ConfigError(invalid(name, value, "a finite number > 0" + (" or None" if allow_none else "")))
    return float(value)


def choice(name: str, value: Any, allowed: typing.Iterable[Any]) -> Any:
    """One of ``allowed`` (a dict's keys count as its values)."""
    allowed = list(allowed)
    if value not in allowed:
        raise ConfigError(invalid(name, value, allowed))
    return value


def existing_path(name: str, value: Any, *, kind: str = "file") -> Path:
    """A path that exists: ``kind`` is "file", "dir" or "any"."""
    try:
        path = Path(os.fspath(value))
    except TypeError:
        raise ConfigError(invalid(name, value, f"a path to an existing {kind}")) from None
    ok = {"file": path.is_file, "dir": path.is_dir, "any": path.exists}[kind]()
    if not ok:
        what = "file or directory" if kind == "any" else kind
        raise ConfigError(invalid(name, str(value), f"an existing {what}"))
    return path


# ---------------------------------------------------------------------------- field types
def field_types(cls: type) -> dict[str, Any]:
    """Each field's resolved type hint (``from __future__ import annotations`` makes them strings)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls)}


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(hint))
        return (args[0] if len(args) == 1 else hint), nullable
    return hint, False


def parse_value(name: str, text: str, hint: Any) -> Any:
    """A command-line string as the field's type: ``"3"`` -> 3, ``"a,b"`` -> ["a", "b"], ``"none"`` -> None.

    Types: int, float, bool (true/false/yes/no/1/0), str, list/tuple of those (comma-separated),
    each optionally ``| None`` (written ``none``)."""
    base, nullable = _unwrap_optional(hint)
    if nullable and text.strip().lower() in ("none", "null", ""):
        return None
    origin = typing.get_origin(base)
    if origin in (list, tuple):
        args = typing.get_args(base)
        item = args[0] if args else str
        values = [parse_value(name, part.strip(), item) for part in text.split(",") if part.strip()]
        return values if origin is list else tuple(values)
    if base is bool:
        low = text.strip().lower()
        if low in ("true", "yes", "1", "on"):
            return True
        if low in ("false", "no", "0", "off"):
            return False
        raise ConfigError(invalid(name, text, "true or false"))
    if base is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(invalid(name, text, "an integer")) from None
    if base is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(invalid(name, text, "a number")) from None
    return text


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """TOML/JSON values to the field's type where that is lossless (int -> float, list -> tuple)."""
    base, nullable = _unwrap_optional(hint)
    if value is None:
        if nullable or base is Any:
            return None
        raise ConfigError(invalid(name, None, f"a value of type {getattr(base, '__name__', base)}"))
    if base is float and _is_int(value):
        return float(value)
    if typing.get_origin(base) is tuple and isinstance(value, list):
        return tuple(value)
    if base in (int, float, str, bool):
        ok = (
            _is_int(value)
            if base is int
            else isinstance(value, base) and not (base is float and isinstance(value, bool))
        )
        if not ok:
            raise ConfigError(invalid(name, value, f"a value of type {base.__name__}"))
    return value


# ---------------------------------------------------------------------------------- Config
class Config:
    """Base of every task config (a dataclass): strict ``from_dict``/``from_toml``, ``to_dict``.

    ``OPTION_FIELDS`` maps a common ``rnnkit train`` option to the field it sets when the
    names differ. ``RESUMABLE_KEYS`` lists fields that may change when a run is resumed (more epochs,
    other threads); any other difference between a run directory's config and the new one
    refuses the resume (:func:`rnnkit.tasks.runs.start_run`).
    """

    RESUMABLE_KEYS: ClassVar[frozenset[str]] = frozenset({"epochs", "threads", "max_steps"})
    # A common train option that sets a field of another name ({"max_samples": "max_tokens"}).
    OPTION_FIELDS: ClassVar[dict[str, str]] = {}

    @classmethod
    def keys(cls) -> list[str]:
        """The field names, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[C], values: typing.Mapping[str, Any], *, source: str = "config") -> C:
        """The config from ``values``; an unknown key is an error naming the allowed ones.

        ``source`` names where the values came from in the error (a file, ``--set``)."""
        names = cls.keys()
        unknown = sorted(set(values) - set(names))
        if unknown:
            where = "" if source == "config" else f" (in {source})"
            raise ConfigError(invalid("config key", unknown[0], sorted(names))[:-1] + where + ".")
        hints = field_types(cls)
        coerced = {k: _coerce(k, v, hints[k]) for k, v in values.items()}
        return cls(**coerced)

    @classmethod
    def from_toml(
        cls: type[C],
        path: str | os.PathLike[str],
        overrides: typing.Mapping[str, Any] | None = None,
        *,
        section: str | None = None,
    ) -> C:
        """A TOML preset (flat keys, or the keys of table ``section``) with ``overrides`` on top.

        ``None`` values in ``overrides`` are skipped (a flag the user did not give)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(invalid("config", str(path), "an existing TOML file"))
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
        if section is not None and isinstance(values.get(section), dict) and len(values) == 1:
            values = values[section]
        merged = {**values, **{k: v for k, v in (overrides or {}).items() if v is not None}}
        return cls.from_dict(merged, source=str(path))

    @classmethod
    def from_overrides(cls: type[C], pairs: typing.Iterable[str]) -> dict[str, Any]:
        """``["units=64", "cell=gru"]`` (``--set`` flags) -> typed values; unknown keys are errors."""
        hints = field_types(cls)
        out: dict[str, Any] = {}
        for pair in pairs:
            key, sep, text = pair.partition("=")
            key = key.strip().replace("-", "_")
            if not sep:
                raise ConfigError(invalid("--set", pair, "key=value"))
            if key not in hints:
                raise ConfigError(invalid("config key", key, sorted(hints))[:-1] + " (in --set).")
            out[key] = parse_value(key, text, hints[key])
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain values (tuples as lists), ready for JSON and TOML."""
        raw = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in raw.items()}

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` (validated again)."""
        return type(self).from_dict({**self.to_dict(), **changes})

    def differences(self, other: typing.Mapping[str, Any]) -> list[str]:
        """Keys whose values differ from ``other`` (a stored config), ``RESUMABLE_KEYS`` aside."""
        mine = self.to_dict()
        keys = (set(mine) | set(other)) - set(self.RESUMABLE_KEYS)
        return sorted(k for k in keys if mine.get(k) != other.get(k))
