"""The task registry: one :class:`Task` line per task; the CLI, the server and the page read it.

A task names its parts as ``"module:attribute"`` strings, imported only when used, so
``rnnkit --help`` imports no task code beyond the light ``cli.py`` modules (and no torch).
An import that fails is an error naming the task and the reference, never a command that
silently disappears. See docs/adding-a-task.md for the contract each part follows.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from rnnkit.errors import ConfigError, MissingDependencyError, invalid

__all__ = ["TASKS", "Task", "get", "names"]


@dataclass(frozen=True)
class Task:
    """One task: its name (``rnnkit train NAME``, run.json's ``task``) and its parts.

    - ``config``: a :class:`rnnkit.config.Config` dataclass (module without torch at import);
    - ``train``: ``train(config, options: TrainOptions) -> dict`` (the metrics);
    - ``predictor``: a class with ``load(run_dir) -> predictor``; optional methods
      ``evaluate(split) -> dict`` (``rnnkit evaluate``) and ``describe() -> dict`` (``/api/runs``);
    - ``commands``: a dict {command name: typer-style function} (module without torch at import);
    - ``routes``: ``router(ctx: ServeContext) -> fastapi.APIRouter`` for ``rnnkit serve``;
    - ``page``: the tab script under ``rnnkit/server/static/tasks/`` for the demo page;
    - ``preset_section``: a TOML table a preset may wrap its keys in (``[forecast]``);
    - ``report``: ``report(metrics, options) -> None``, printed after ``rnnkit train`` (rank 0).
    """

    name: str
    help: str
    config: str
    train: str
    predictor: str
    commands: str | None = None
    routes: str | None = None
    page: str | None = None
    preset_section: str | None = None
    report: str | None = None

    def resolve(self, part: str) -> Any:
        """Import the object that part ``part`` ("config", "train", ...) refers to."""
        ref = getattr(self, part)
        if ref is None:
            return None
        module_name, _, attr = ref.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and not exc.name.startswith("rnnkit"):
                raise MissingDependencyError(
                    f"task {self.name!r} needs the package {exc.name!r} ({ref}): install it "
                    "(pip install 'rnnkit[all]' or the task's extra)."
                ) from exc
            raise ImportError(f"task {self.name!r}: cannot import {part} {ref!r}: {exc}") from exc
        except ImportError as exc:
            raise ImportError(f"task {self.name!r}: cannot import {part} {ref!r}: {exc}") from exc
        try:
            return getattr(module, attr)
        except AttributeError:
            raise ImportError(
                f"task {self.name!r}: {module_name!r} has no {attr!r} ({part} = {ref!r})"
            ) from None

    def config_class(self) -> Any:
        return self.resolve("config")

    def train_function(self) -> Any:
        return self.resolve("train")

    def predictor_class(self) -> Any:
        return self.resolve("predictor")

    def command_functions(self) -> dict[str, Any]:
        """The task's use commands ({} when it has none)."""
        commands = self.resolve("commands")
        return dict(commands or {})


TASKS: list[Task] = [
    Task(
        name="sentiment",
        help="Text classification (sentiment): Embedding -> BiLSTM -> pooling -> Dense",
        config="rnnkit.tasks.sentiment.config:SentimentConfig",
        train="rnnkit.tasks.sentiment.train:train",
        predictor="rnnkit.tasks.sentiment.predictor:SentimentClassifier",
        commands="rnnkit.tasks.sentiment.cli:COMMANDS",
        routes="rnnkit.tasks.sentiment.api:router",
        page="sentiment.js",
    ),
    Task(
        name="lm",
        help="Word- or character-level LSTM language model: suggest, generate",
        config="rnnkit.tasks.language_model.config:LMConfig",
        train="rnnkit.tasks.language_model.train:train",
        predictor="rnnkit.tasks.language_model.predictor:LanguageModel",
        commands="rnnkit.tasks.language_model.cli:COMMANDS",
        routes="rnnkit.tasks.language_model.api:router",
        page="lm.js",
    ),
    Task(
        name="forecast",
        help="Time-series forecasting with prediction intervals, beside baselines",
        config="rnnkit.tasks.forecasting.config:ForecastConfig",
        train="rnnkit.tasks.forecasting.training:train_task",
        predictor="rnnkit.tasks.forecasting.forecaster:Forecaster",
        commands="rnnkit.tasks.forecasting.cli:COMMANDS",
        routes="rnnkit.tasks.forecasting.api:router",
        page="forecast.js",
        preset_section="forecast",
        report="rnnkit.tasks.forecasting.cli:report",
    ),
    Task(
        name="caption",
        help="Image captioning: a small CNN -> attention -> LSTM decoder (Show, Attend and Tell)",
        config="rnnkit.tasks.caption.config:CaptionConfig",
        train="rnnkit.tasks.caption.train:train",
        predictor="rnnkit.tasks.caption.predictor:CaptionPredictor",
        commands="rnnkit.tasks.caption.cli:COMMANDS",
        routes="rnnkit.tasks.caption.api:router",
        page="caption.js",
    ),
    Task(
        name="music",
        help="Bach chorales: a melody LM or four voices; compose and harmonise to MIDI/WAV",
        config="rnnkit.tasks.music.config:MusicConfig",
        train="rnnkit.tasks.music.train:train",
        predictor="rnnkit.tasks.music.predictor:MusicModel",
        commands="rnnkit.tasks.music.cli:COMMANDS",
        routes="rnnkit.tasks.music.api:router",
        page="music.js",
    ),
    Task(
        name="speech",
        help="Speech-to-text: conv + BiGRU/LSTM trained with CTC; greedy or prefix beam search + word LM",
        config="rnnkit.tasks.speech.config:SpeechConfig",
        train="rnnkit.tasks.speech.train:train",
        predictor="rnnkit.tasks.speech.predictor:Transcriber",
        commands="rnnkit.tasks.speech.cli:COMMANDS",
        routes="rnnkit.tasks.speech.api:router",
        page="speech.js",
    ),
    Task(
        name="commands",
        help="Voice commands (keyword spotting): ten words + unknown + silence from any WAV",
        config="rnnkit.tasks.commands.config:CommandsConfig",
        train="rnnkit.tasks.commands.train:train",
        predictor="rnnkit.tasks.commands.predictor:CommandRecognizer",
        commands="rnnkit.tasks.commands.cli:COMMANDS",
        routes="rnnkit.tasks.commands.api:router",
        page="commands.js",
    ),
    Task(
        name="translate",
        help="English -> Spanish seq2seq with attention and beam search; BLEU/chrF against Apertium",
        config="rnnkit.tasks.translation.config:TranslationConfig",
        train="rnnkit.tasks.translation.train:train",
        predictor="rnnkit.tasks.translation.predictor:Translator",
        commands="rnnkit.tasks.translation.cli:COMMANDS",
        routes="rnnkit.tasks.translation.api:router",
        page="translate.js",
    ),
]


def names() -> list[str]:
    return [t.name for t in TASKS]


def get(name: str) -> Task:
    """The task called ``name``; an unknown name is an error listing the known ones."""
    for task in TASKS:
        if task.name == name:
            return task
    raise ConfigError(invalid("task", name, names()))
