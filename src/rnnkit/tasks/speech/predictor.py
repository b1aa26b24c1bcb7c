"""A trained speech-to-text run: ``Transcriber.load(run_dir).transcribe("clip.wav", beam=8)``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnkit.models import load_model
from rnnkit.tasks import runs
from rnnkit.tasks.audio.frontend import FrontEnd

from .config import SpeechConfig
from .decoding import Alphabet, WordLM
from .evaluate import Decoder, error_rates, log_probs_of
from .model import SpeechRecognizer
from .train import SPEECH_FILE, TASK, decoders


@dataclass(frozen=True)
class Transcript:
    """What ``transcribe`` returns: the text, the decoder, and how long it took (real-time factor)."""

    text: str
    decoder: str
    audio_seconds: float
    compute_seconds: float

    @property
    def real_time_factor(self) -> float:
        return self.compute_seconds / self.audio_seconds if self.audio_seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "decoder": self.decoder,
            "audio_seconds": round(self.audio_seconds, 3),
            "compute_seconds": round(self.compute_seconds, 4),
            "real_time_factor": round(self.real_time_factor, 4),
        }


class Transcriber:
    """A trained CTC recogniser with its front end, alphabet and word LM."""

    def __init__(
        self,
        model: SpeechRecognizer,
        frontend: FrontEnd,
        alphabet: Alphabet,
        lm: WordLM,
        config: SpeechConfig,
    ) -> None:
        self.model, self.frontend, self.alphabet, self.lm, self.config = model, frontend, alphabet, lm, config
        self.model.eval()

    @classmethod
    def load(cls, path: str | Path) -> Transcriber:
        run = runs.open_trained_run(path, TASK)
        state = run.read_json(SPEECH_FILE)
        model = load_model(run.model_path, compile=False)
        alphabet = Alphabet(tuple(state["labels"]), state["level"])
        return cls(
            model,
            FrontEnd.from_dict(state["frontend"]),
            alphabet,
            WordLM.from_dict(state["lm"]),
            SpeechConfig.from_dict(run.config),
        )

    def decoder(self, beam: int | None = None, lm: bool = True) -> tuple[str, Decoder]:
        """(name, decoder): greedy for ``beam=0``, else beam search (with the LM unless ``lm=False``)."""
        width = self.config.beam if beam is None else beam
        if width <= 0:
            return "greedy", Decoder(self.alphabet)
        name = "beam+lm" if lm else "beam"
        return f"{name} ({width})", decoders(self.alphabet, self.lm, self.config, beam=width)[name]

    @torch.no_grad()
    def transcribe(
        self, source: str | Path | bytes, *, beam: int | None = None, lm: bool = True
    ) -> Transcript:
        """Any WAV (path or bytes; resampled, mixed down) -> its transcript."""
        wave = self.frontend.load(source)
        t0 = time.perf_counter()
        frames = self.frontend.features(wave)
        log_probs, _ = self.model(frames[None], torch.tensor([frames.shape[0]]))
        name, dec = self.decoder(beam, lm)
        text = dec(log_probs[0].numpy())
        return Transcript(text, name, wave.size / self.frontend.sample_rate, time.perf_counter() - t0)

    def score(
        self, waves: list[Any], texts: list[str], *, beam: int | None = None, lm: bool = True
    ) -> dict[str, float]:
        """Corpus WER/CER of waveforms (at the front end's rate) against their transcripts."""
        lps = log_probs_of(self.model, [self.frontend.features(w) for w in waves])
        _, dec = self.decoder(beam, lm)
        return error_rates(texts, [dec(lp) for lp in lps])

    def evaluate(self, split: str = "test") -> dict[str, Any]:
        """WER/CER of the run's own data split (``rnnkit evaluate RUN``)."""
        from .data import load_speech

        data = load_speech(self.config.data, self.frontend, max_samples=self.config.max_samples)
        if split not in data.waves:
            from rnnkit.config import choice

            choice("split", split, list(data.waves))
        return {"split": split, **self.score(data.waves[split], data.texts[split])}

    def describe(self) -> dict[str, Any]:
        return {
            "task": TASK,
            "level": self.alphabet.level,
            "labels": len(self.alphabet.labels),
            "sample_rate": self.frontend.sample_rate,
            "max_seconds": self.frontend.max_seconds,
            "beam": self.config.beam,
            "vocabulary": sorted(self.lm.vocabulary),
        }
