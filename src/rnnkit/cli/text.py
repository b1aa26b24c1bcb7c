"""Text commands: ``train sentiment``, ``train lm``, ``predict``, ``suggest``, ``generate``.

    rnnkit train sentiment --data imdb --out runs/sent [--epochs N]
    rnnkit predict runs/sent "The movie was fantastic and emotional!" [--file F] [--json]
    rnnkit train lm --data ptb --out runs/lm [--level word|char] [--epochs N]
    rnnkit suggest runs/lm "I love dee" --top-k 3
    rnnkit generate runs/lm --prompt "..." --length 200 --temperature 0.8 [--top-k K] [--top-p P] [--seed S]

Bad input raises :class:`~rnnkit.errors.RnnkitError`; ``rnnkit.cli.main`` prints it as one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from rnnkit.errors import DataError

_RESUME_HELP = "Resume from the run's checkpoint (default: automatically when it has one)."
_THREADS_HELP = "Torch CPU threads (1 is often faster on a busy shared machine)."


def _echo_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))


def _summary(metrics: dict[str, Any], keys: tuple[str, ...]) -> str:
    return ", ".join(f"{k}={metrics[k]:.4f}" for k in keys if isinstance(metrics.get(k), float))


def train_sentiment(
    out: Annotated[Path, typer.Option(help="Run directory to write (created if missing).")],
    data: Annotated[
        str, typer.Option(help="imdb, tweets, rotten_tomatoes, or a CSV/TSV/JSONL file.")
    ] = "imdb",
    text_column: Annotated[str, typer.Option(help="Text column of a table file.")] = "text",
    label_column: Annotated[
        str, typer.Option(help="Label column of a table file (two or more classes).")
    ] = "label",
    config: Annotated[Path | None, typer.Option(help="TOML preset (e.g. configs/sentiment.toml).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs to train (overrides the preset).")] = None,
    cell: Annotated[str | None, typer.Option(help="lstm, gru or rnn.")] = None,
    max_samples: Annotated[
        int | None, typer.Option(help="Use only this many training texts (quick runs).")
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option(help="At most this many batches per epoch (quick runs).")
    ] = None,
    threads: Annotated[int | None, typer.Option(help=_THREADS_HELP)] = None,
    resume: Annotated[bool | None, typer.Option("--resume/--no-resume", help=_RESUME_HELP)] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Train a sentiment classifier (Embedding -> BiLSTM -> pooling -> Dense) into a run directory."""
    from rnnkit.tasks.sentiment import SentimentConfig, load_preset
    from rnnkit.tasks.sentiment import train_sentiment as train

    overrides = {
        "data": data,
        "text_column": text_column,
        "label_column": label_column,
        "epochs": epochs,
        "cell": cell,
        "max_samples": max_samples,
        "max_steps": max_steps,
        "threads": threads,
    }
    if config is not None:
        cfg = load_preset(config, SentimentConfig, overrides)
    else:
        cfg = SentimentConfig.from_dict({k: v for k, v in overrides.items() if v is not None})
    metrics = train(cfg, out, resume=resume, verbose=0 if quiet else 1)
    typer.echo(f"saved {out}: {_summary(metrics, ('test_accuracy', 'test_macro_f1'))}")


def predict(
    run: Annotated[Path, typer.Argument(help="A sentiment run directory.")],
    text: Annotated[str | None, typer.Argument(help="The text to classify.")] = None,
    file: Annotated[Path | None, typer.Option(help="Classify each non-empty line of this file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Label a text (or each line of --file) and print the class probabilities."""
    from rnnkit.tasks.sentiment import SentimentClassifier

    if text is None and file is None:
        raise DataError("give a text to classify, or --file with one text per line.")
    texts = [] if text is None else [text]
    if file is not None:
        if not file.is_file():
            raise DataError(f"file {str(file)!r} does not exist.")
        texts += [line for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not texts:
            raise DataError(f"file {str(file)!r} has no non-empty line to classify.")
    preds = SentimentClassifier.load(run).predict(texts)
    if as_json:
        _echo_json([{"text": t, **p.to_dict()} for t, p in zip(texts, preds, strict=True)])
        return
    for t, p in zip(texts, preds, strict=True):
        probs = "  ".join(f"{c}={v:.3f}" for c, v in p.probabilities.items())
        prefix = f"{t[:60]!r}: " if len(texts) > 1 else ""
        typer.echo(f"{prefix}{p.label}  ({probs})")


def train_lm(
    out: Annotated[Path, typer.Option(help="Run directory to write (created if missing).")],
    data: Annotated[str, typer.Option(help="ptb, shakespeare, or a UTF-8 text file.")] = "ptb",
    level: Annotated[str | None, typer.Option(help="word or char.")] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML preset (configs/lm_ptb.toml, configs/char_lm.toml).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs to train (overrides the preset).")] = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="Use only about this many tokens per split (quick runs).")
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option(help="At most this many BPTT chunks per epoch (quick runs).")
    ] = None,
    threads: Annotated[int | None, typer.Option(help=_THREADS_HELP)] = None,
    resume: Annotated[bool | None, typer.Option("--resume/--no-resume", help=_RESUME_HELP)] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Train a word- or character-level LSTM language model (tied embeddings, dropout)."""
    from rnnkit.tasks.language_model import LMConfig
    from rnnkit.tasks.language_model import train_lm as train
    from rnnkit.tasks.sentiment import load_preset

    overrides = {
        "data": data,
        "level": level,
        "epochs": epochs,
        "max_tokens": max_tokens,
        "max_steps": max_steps,
        "threads": threads,
    }
    if config is not None:
        cfg = load_preset(config, LMConfig, overrides)
    else:
        if level == "char" and data == "ptb":
            overrides["max_vocab"] = None
        cfg = LMConfig.from_dict({k: v for k, v in overrides.items() if v is not None})
    metrics = train(cfg, out, resume=resume, verbose=0 if quiet else 1)
    typer.echo(f"saved {out}: {_summary(metrics, ('test_perplexity', 'test_nats_per_token'))}")


def suggest(
    run: Annotated[Path, typer.Argument(help="A language-model run directory.")],
    text: Annotated[str, typer.Argument(help="Text typed so far; a last word without a space is completed.")],
    top_k: Annotated[int, typer.Option(help="How many distinct words to suggest.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    int8: Annotated[bool, typer.Option("--int8", help="Decode with int8 weights: ~4x faster steps.")] = False,
) -> None:
    """Suggest the next word (completing a partly typed one), with probabilities."""
    from rnnkit.tasks.language_model import LanguageModel, check_top_k

    check_top_k(top_k)
    suggestions = LanguageModel.load(run, int8=int8).suggest(text, top_k)
    if as_json:
        _echo_json([s.to_dict() for s in suggestions])
        return
    if not suggestions:
        typer.echo("no suggestion: no word in the vocabulary starts like the last word typed")
    for s in suggestions:
        typer.echo(f"{s.word}\t{s.probability:.4f}")


def generate(
    run: Annotated[Path, typer.Argument(help="A language-model run directory.")],
    prompt: Annotated[str, typer.Option(help="Text to continue (may be empty).")] = "",
    length: Annotated[int, typer.Option(help="Tokens to generate (words or characters).")] = 200,
    temperature: Annotated[float, typer.Option(help="> 0; lower is more conservative.")] = 1.0,
    top_k: Annotated[int | None, typer.Option(help="Sample only from the K most likely tokens.")] = None,
    top_p: Annotated[float | None, typer.Option(help="Sample from the smallest set with mass >= P.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same text).")] = None,
    int8: Annotated[bool, typer.Option("--int8", help="Decode with int8 weights: ~4x faster steps.")] = False,
) -> None:
    """Generate text after a prompt, streamed token by token."""
    from rnnkit.tasks.language_model import LanguageModel, check_sampling

    check_sampling(length, temperature, top_k, top_p)
    lm = LanguageModel.load(run, int8=int8)
    typer.echo(prompt, nl=False)
    for piece in lm.iter_generate(prompt, length, temperature, top_k, top_p, seed):
        typer.echo(piece, nl=False)
    typer.echo()
