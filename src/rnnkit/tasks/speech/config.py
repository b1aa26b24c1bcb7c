"""Speech-to-text settings: every knob with its default and why. No torch here (CLI help is fast)."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.config import Config, choice, non_negative_int
from rnnkit.tasks.audio.config import check_audio_config


@dataclass
class SpeechConfig(Config):
    data: str = "spoken_digit_strings"  # bundled (":small"/":tiny" quick), or a folder with transcripts.tsv
    level: str = "char"  # CTC labels: "char" (letters + space; any word) or "word" (closed vocabulary)
    n_mels: int = 40  # log-mel bands: 40 is plenty for 16 kHz speech, and half the cost of 80
    max_seconds: float = 10.0  # longer clips are refused at transcription
    cell: str = "gru"  # "gru" or "lstm"
    units: int = 128  # per direction
    num_layers: int = 2  # recurrent layers
    bidirectional: bool = True  # offline transcription sees the whole clip
    conv_channels: int = 128  # strided Conv1d front end; 0 = none
    stride: int = 2  # the conv keeps every 2nd frame: 20 ms steps, half the recurrent work
    dropout: float = 0.1  # before every recurrent layer
    spec_augment: bool = True  # mask mel bands and time spans in training batches (unseen voices)
    pad_silence: float = 0.5  # up to this many seconds of noise before training clips (mic/other TTS)
    epochs: int = 15
    batch_size: int = 32
    learning_rate: float = 2e-3  # Adam
    clipnorm: float = 5.0  # global gradient norm clip: CTC gradients spike early in training
    beam: int = 8  # prefix beam width for reported results and `transcribe` (0 = greedy)
    lm_weight: float = 0.3  # alpha: weight of the word bigram LM in beam search (0 = no LM)
    constrain_vocabulary: bool = True  # character models: beam search spells only training words
    seed: int = 0
    max_samples: int | None = None  # smoke runs: at most this many clips per split
    max_steps: int | None = None  # smoke runs: at most this many batches per epoch

    def __post_init__(self) -> None:
        choice("level", self.level, ("char", "word"))
        check_audio_config(self)
        non_negative_int("beam", self.beam)
        if self.lm_weight < 0:
            from rnnkit.errors import ConfigError, invalid

            raise ConfigError(invalid("lm_weight", self.lm_weight, "a number >= 0"))
