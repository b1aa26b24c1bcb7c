"""A trained keyword spotter: ``CommandRecognizer.load(run_dir).recognize("clip.wav")``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnkit.models import load_model
from rnnkit.tasks import runs
from rnnkit.tasks.audio.frontend import FrontEnd

from .config import CommandsConfig
from .model import CommandClassifier
from .train import COMMANDS_FILE, TASK, accuracy_and_confusion


@dataclass(frozen=True)
class Recognition:
    """The command heard, the probability of every class, and the time it took."""

    command: str
    probabilities: dict[str, float]
    compute_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "probabilities": {k: round(v, 5) for k, v in self.probabilities.items()},
            "compute_seconds": round(self.compute_seconds, 4),
        }


class CommandRecognizer:
    """A trained classifier over the command words plus ``_unknown_`` and ``_silence_``."""

    def __init__(
        self, model: CommandClassifier, frontend: FrontEnd, classes: list[str], config: CommandsConfig
    ) -> None:
        self.model, self.frontend, self.classes, self.config = model, frontend, classes, config
        self.model.eval()

    @classmethod
    def load(cls, path: str | Path) -> CommandRecognizer:
        run = runs.open_trained_run(path, TASK)
        state = run.read_json(COMMANDS_FILE)
        model = load_model(run.model_path, compile=False)
        config = CommandsConfig.from_dict(run.config)
        return cls(model, FrontEnd.from_dict(state["frontend"]), list(state["classes"]), config)

    @torch.no_grad()
    def recognize(self, source: str | Path | bytes) -> Recognition:
        """Any WAV (path or bytes; resampled, mixed down) -> the command and class probabilities."""
        wave = self.frontend.load(source)
        t0 = time.perf_counter()
        frames = self.frontend.features(wave)
        probs = torch.softmax(self.model(frames[None], torch.tensor([frames.shape[0]]))[0], dim=-1).tolist()
        best = max(range(len(probs)), key=probs.__getitem__)
        return Recognition(
            self.classes[best], dict(zip(self.classes, probs, strict=True)), time.perf_counter() - t0
        )

    def evaluate(self, split: str = "test") -> dict[str, Any]:
        """Accuracy on the run's own data split (``rnnkit evaluate RUN``)."""
        from rnnkit.config import choice

        from .data import load_commands

        data = load_commands(self.config.data, unknown=self.config.unknown, with_silence=self.config.silence)
        choice("split", split, list(data.waves))
        frames = [self.frontend.features(w) for w in data.waves[split]]
        acc, cm = accuracy_and_confusion(self.model, frames, data.labels[split], len(self.classes))
        return {"split": split, "accuracy": acc, "confusion": cm.tolist(), "classes": self.classes}

    def describe(self) -> dict[str, Any]:
        return {
            "task": TASK,
            "classes": self.classes,
            "sample_rate": self.frontend.sample_rate,
            "max_seconds": self.frontend.max_seconds,
        }
