"""rnnkit.config: strict configs from dicts, TOML presets and --set flags; the shared validators."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from rnnkit.config import (
    Config,
    choice,
    existing_path,
    non_negative_int,
    parse_value,
    positive_float,
    positive_int,
    rate,
)
from rnnkit.errors import ConfigError


@dataclass
class Toy(Config):
    units: int = 8  # recurrent units
    rate_: float = 0.1
    cell: str = "lstm"
    tied: bool = True
    names: list[str] = field(default_factory=list)
    cap: int | None = None

    def __post_init__(self) -> None:
        positive_int("units", self.units)
        choice("cell", self.cell, ("lstm", "gru"))


def test_from_dict_refuses_an_unknown_key_naming_the_allowed_ones():
    with pytest.raises(ConfigError) as err:
        Toy.from_dict({"unit": 3})
    assert str(err.value) == (
        "config key='unit' is not valid: expected one of 'cap', 'cell', 'names', 'rate_', 'tied', 'units'."
    )


def test_from_dict_checks_types_and_validates():
    assert Toy.from_dict({"units": 3, "rate_": 1}).rate_ == 1.0  # an int where a float goes is fine
    with pytest.raises(ConfigError, match=r"^units='3' is not valid: expected a value of type int\.$"):
        Toy.from_dict({"units": "3"})
    with pytest.raises(ConfigError, match=r"^cell='rnn' is not valid: expected one of 'lstm', 'gru'\.$"):
        Toy.from_dict({"cell": "rnn"})
    with pytest.raises(ConfigError, match=r"^units=None is not valid"):
        Toy.from_dict({"units": None})


def test_from_toml_with_overrides_and_a_section(tmp_path):
    flat = tmp_path / "flat.toml"
    flat.write_text('units = 4\ncell = "gru"\n')
    cfg = Toy.from_toml(flat, {"units": 16, "cap": None})
    assert (cfg.units, cfg.cell, cfg.cap) == (16, "gru", None)  # flags win; None = not given
    wrapped = tmp_path / "wrapped.toml"
    wrapped.write_text("[toy]\nunits = 5\n")
    assert Toy.from_toml(wrapped, section="toy").units == 5
    bad = tmp_path / "bad.toml"
    bad.write_text("unitz = 4\n")
    with pytest.raises(ConfigError, match=r"config key='unitz' is not valid: .* \(in .*bad\.toml\)\.$"):
        Toy.from_toml(bad)
    broken = tmp_path / "broken.toml"
    broken.write_bytes(b"units = \xff\n")
    with pytest.raises(ConfigError, match=r"is not valid TOML"):
        Toy.from_toml(broken)
    with pytest.raises(ConfigError, match=r"^config='.*missing\.toml' is not valid: expected an existing"):
        Toy.from_toml(tmp_path / "missing.toml")


def test_overrides_are_typed_from_the_field_hints():
    got = Toy.from_overrides(["units=3", "tied=false", "names=a, b", "cap=none", "rate-=0.5"])
    assert got == {"units": 3, "tied": False, "names": ["a", "b"], "cap": None, "rate_": 0.5}
    with pytest.raises(ConfigError, match=r"^config key='unit' is not valid: .* \(in --set\)\.$"):
        Toy.from_overrides(["unit=3"])
    with pytest.raises(ConfigError, match=r"^--set='units' is not valid: expected key=value\.$"):
        Toy.from_overrides(["units"])
    with pytest.raises(ConfigError, match=r"^units='abc' is not valid: expected an integer\.$"):
        Toy.from_overrides(["units=abc"])
    with pytest.raises(ConfigError, match=r"^tied='maybe' is not valid: expected true or false\.$"):
        parse_value("tied", "maybe", bool)


def test_to_dict_replace_and_differences():
    cfg = Toy(names=["x"])
    assert cfg.to_dict()["names"] == ["x"]
    assert cfg.replace(units=2).units == 2
    with pytest.raises(ConfigError):
        cfg.replace(units=0)
    stored = {**cfg.to_dict(), "cell": "gru", "units": 8}
    assert cfg.differences(stored) == ["cell"]


@pytest.mark.parametrize(
    ("fn", "args", "message"),
    [
        (positive_int, ("n", 0), "n=0 is not valid: expected an integer >= 1."),
        (positive_int, ("n", True), "n=True is not valid: expected an integer >= 1."),
        (positive_int, ("n", None), "n=None is not valid: expected an integer >= 1."),
        (non_negative_int, ("n", -1), "n=-1 is not valid: expected an integer >= 0."),
        (rate, ("p", 1.0), "p=1.0 is not valid: expected a number in [0, 1)."),
        (positive_float, ("lr", float("inf")), "lr=inf is not valid: expected a finite number > 0."),
        (choice, ("cell", "x", ("a", "b")), "cell='x' is not valid: expected one of 'a', 'b'."),
    ],
)
def test_validators_name_the_argument_value_and_what_is_allowed(fn, args, message):
    with pytest.raises(ConfigError) as err:
        fn(*args)
    assert str(err.value) == message


def test_validators_return_what_they_accept(tmp_path):
    assert positive_int("n", None, allow_none=True) is None
    assert non_negative_int("n", 0) == 0
    assert rate("p", 0) == 0.0
    assert positive_float("lr", 2) == 2.0
    (tmp_path / "f").write_text("x")
    assert existing_path("data", tmp_path / "f") == tmp_path / "f"
    assert existing_path("dir", tmp_path, kind="dir") == tmp_path
    with pytest.raises(ConfigError, match=r"expected an existing file\.$"):
        existing_path("data", tmp_path / "nope")
