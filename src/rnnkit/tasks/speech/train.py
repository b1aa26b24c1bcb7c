"""Train speech-to-text into a run directory: ``train(config, options) -> metrics``.

Features, alphabet and word LM come from the training split; the CTC model is fitted with a
checkpoint per epoch (:func:`rnnkit.tasks.runs.fit_in_run`); the metrics are WER/CER of greedy,
beam and beam+LM decoding on the validation and test voices (never heard in training).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import torch

from rnnkit import optimizers
from rnnkit.errors import CheckpointError
from rnnkit.tasks import runs
from rnnkit.tasks.audio.config import encoder_kwargs
from rnnkit.tasks.audio.frontend import (
    CappedBatches,
    FeatureBatches,
    FrontEnd,
    default_augment,
    pad_with_silence,
)
from rnnkit.tasks.audio.training import earlier_seconds

from .config import SpeechConfig
from .data import SpeechSplits, featurize, load_speech
from .decoding import Alphabet, WordLM, normalize_text
from .evaluate import Decoder, score
from .model import SpeechRecognizer

logger = logging.getLogger(__name__)
TASK = "speech"
SPEECH_FILE = "speech.json"  # the front end, alphabet and word LM a run needs beside its weights


@dataclass
class Prepared:
    """Everything a run needs before fit: data, features, alphabet, LM and the compiled model."""

    config: SpeechConfig
    frontend: FrontEnd
    splits: SpeechSplits
    frames: dict[str, list[torch.Tensor]]
    alphabet: Alphabet
    lm: WordLM
    model: SpeechRecognizer
    train_batches: FeatureBatches
    val_batches: FeatureBatches


def build_model(config: SpeechConfig, n_labels: int) -> SpeechRecognizer:
    return SpeechRecognizer(config.n_mels, n_labels, **encoder_kwargs(config))


def prepare(config: SpeechConfig) -> Prepared:
    """Load and featurise the data, fit the alphabet and LM, build and compile the model."""
    torch.manual_seed(config.seed)
    frontend = FrontEnd(n_mels=config.n_mels, max_seconds=config.max_seconds)
    splits = load_speech(config.data, frontend, max_samples=config.max_samples)
    t0 = time.perf_counter()
    waves = dict(splits.waves)
    if config.pad_silence:  # training clips only: validation/test stay as the dataset has them
        waves["train"] = pad_with_silence(
            waves["train"], config.pad_silence, frontend.sample_rate, config.seed
        )
    frames = {s: featurize(w, frontend) for s, w in waves.items()}
    logger.info("speech: features of %s in %.1f s", splits.sizes(), time.perf_counter() - t0)
    texts = {s: [normalize_text(t) for t in ts] for s, ts in splits.texts.items()}
    alphabet = Alphabet.from_texts(texts["train"], config.level)
    lm = WordLM.fit(texts["train"])
    model = build_model(config, len(alphabet.labels))
    model.compile(
        optimizer=optimizers.Adam(learning_rate=config.learning_rate, global_clipnorm=config.clipnorm),
        device="cpu",
    )
    # a validation transcript with a unit unseen in training cannot be a CTC target: skip it
    known = set(alphabet.labels)
    val = [
        (f, alphabet.encode(t))
        for f, t in zip(frames["validation"], texts["validation"], strict=True)
        if set(t.split() if config.level == "word" else t) <= known
    ]
    augment = default_augment() if config.spec_augment else None
    train_batches = FeatureBatches(
        frames["train"],
        [alphabet.encode(t) for t in texts["train"]],
        config.batch_size,
        shuffle=True,
        augment=augment,
        seed=config.seed,
    )
    val_batches = FeatureBatches([f for f, _ in val], [t for _, t in val], config.batch_size)
    return Prepared(config, frontend, splits, frames, alphabet, lm, model, train_batches, val_batches)


def decoders(
    alphabet: Alphabet, lm: WordLM | None, config: SpeechConfig, beam: int | None = None
) -> dict[str, Decoder]:
    """Greedy, plain prefix beam search, and beam search with the LM / vocabulary constraint."""
    width = beam if beam is not None else max(config.beam, 1)
    constrain = config.constrain_vocabulary and config.level == "char"
    return {
        "greedy": Decoder(alphabet),
        "beam": Decoder(alphabet, beam=width),
        "beam+lm": Decoder(alphabet, beam=width, lm=lm, alpha=config.lm_weight, constrain=constrain),
    }


def evaluate_splits(p: Prepared, splits: tuple[str, ...] = ("validation", "test")) -> dict[str, Any]:
    """WER/CER of every decoder on each split (unseen voices)."""
    decs = decoders(p.alphabet, p.lm, p.config)
    return {s: score(p.model, p.frames[s], p.splits.texts[s], decs) for s in splits}


def speech_state(p: Prepared) -> dict[str, Any]:
    return {
        "frontend": p.frontend.to_dict(),
        "labels": list(p.alphabet.labels),
        "level": p.alphabet.level,
        "lm": p.lm.to_dict(),
    }


def train(config: SpeechConfig, options: runs.TrainOptions) -> dict[str, Any]:
    """Train a CTC recogniser into ``options.out``; returns the metrics written to metrics.json."""
    options.apply_threads()
    p = prepare(config)
    run = runs.start_run(options, TASK, config, data=runs.fingerprint(config.data))
    if run.resuming and run.file(SPEECH_FILE).exists():
        stored = run.read_json(SPEECH_FILE)
        if tuple(stored["labels"]) != p.alphabet.labels:  # same data and config give the same alphabet
            raise CheckpointError(f"{str(run.path)!r} was trained with other labels: add --overwrite.")
    run.write_json(SPEECH_FILE, speech_state(p))
    batches: Any = (
        p.train_batches if config.max_steps is None else CappedBatches(p.train_batches, config.max_steps)
    )
    start, seconds = runs.fit_in_run(p.model, run, batches, p.val_batches, epochs=config.epochs)
    if run.is_writer:
        p.model.save(run.model_path)
    scores = evaluate_splits(p)
    metrics = {
        "task": TASK,
        "data": config.data,
        "samples": p.splits.sizes(),
        "labels": len(p.alphabet.labels),
        "epochs": config.epochs,
        "resumed_from_epoch": start,
        "train_seconds_this_session": round(seconds, 1),
        "train_seconds_total": round(seconds + earlier_seconds(run, start), 1),
        "parameters": p.model.count_params(),
        "beam": max(config.beam, 1),
        **{
            f"{split}_{dec}_{k}": round(v, 5)
            for split, d in scores.items()
            for dec, r in d.items()
            for k, v in r.items()
        },
    }
    run.write_json(runs.METRICS_FILE, metrics)
    return metrics


train_speech = train  # the package-level name (``rnnkit.tasks.speech.train`` is this module)
