"""Keyword-spotting settings: every knob with its default and why. No torch here."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.config import Config, choice
from rnnkit.tasks.audio.config import check_audio_config


@dataclass
class CommandsConfig(Config):
    data: str = "spoken_words"  # the ten command words; or "spoken_digits" (ten digits as commands)
    unknown: bool = True  # an "_unknown_" class of other words (the other vocabulary)
    silence: bool = True  # a "_silence_" class of noise-only clips
    n_mels: int = 40  # log-mel bands
    max_seconds: float = 5.0  # a command is short: longer clips are refused at recognition
    cell: str = "gru"  # "gru" or "lstm"
    units: int = 64  # per direction: ten words need far less than speech-to-text
    num_layers: int = 2
    bidirectional: bool = True
    conv_channels: int = 64  # strided Conv1d front end; 0 = none
    stride: int = 2
    dropout: float = 0.1
    spec_augment: bool = True  # mask bands and spans: the test voices are unseen
    pad_silence: float = 0.5  # up to this many seconds of noise before training clips (mic/other TTS)
    epochs: int = 15
    batch_size: int = 32
    learning_rate: float = 2e-3  # Adam
    clipnorm: float = 5.0
    seed: int = 0
    max_samples: int | None = None  # smoke runs: at most this many clips per split
    max_steps: int | None = None  # smoke runs: at most this many batches per epoch

    def __post_init__(self) -> None:
        choice("data", self.data, ("spoken_words", "spoken_digits"))
        check_audio_config(self)
