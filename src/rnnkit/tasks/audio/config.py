"""Settings the audio tasks share (front end, encoder, training), checked once. No torch here.

Each task keeps its own dataclass (its defaults, and why, differ: ten command words need a
smaller encoder than speech-to-text); these helpers hold what the two have in common.
"""

from __future__ import annotations

from typing import Any

from rnnkit.config import choice, non_negative_int, positive_float, positive_int, rate
from rnnkit.errors import ConfigError, invalid

# The AcousticEncoder's arguments, under the same names in every audio task's config.
ENCODER_FIELDS = ("cell", "units", "num_layers", "bidirectional", "conv_channels", "stride", "dropout")


def encoder_kwargs(config: Any) -> dict[str, Any]:
    """The config's encoder settings as keyword arguments of the task's model."""
    return {name: getattr(config, name) for name in ENCODER_FIELDS}


def check_audio_config(config: Any) -> None:
    """The checks every audio task's config shares; each task adds its own (data, labels, beam ...)."""
    choice("cell", config.cell, ("gru", "lstm"))
    for name in ("n_mels", "units", "num_layers", "stride", "epochs", "batch_size"):
        positive_int(name, getattr(config, name))
    non_negative_int("conv_channels", config.conv_channels)
    non_negative_int("seed", config.seed)
    positive_int("max_samples", config.max_samples, allow_none=True)
    positive_int("max_steps", config.max_steps, allow_none=True)
    rate("dropout", config.dropout)
    positive_float("max_seconds", config.max_seconds)
    if not 0 <= config.pad_silence <= 5:
        raise ConfigError(invalid("pad_silence", config.pad_silence, "seconds in [0, 5]"))
    positive_float("learning_rate", config.learning_rate)
    positive_float("clipnorm", config.clipnorm)
