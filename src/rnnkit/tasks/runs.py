"""The run directory every ``rnnkit train <task>`` writes, and ``fit`` inside it.

Layout (the CLI, the server and ``rnnkit evaluate`` read it)::

    runs/NAME/
      run.json                {"format": "rnnkit.run/1", "task": ..., "config": {...},
                               "data": {"source": ..., "fingerprint": ...}, "rnnkit_version": ...}
      model.safetensors       the trained model (``Model.save``)
      checkpoint.safetensors  weights + optimizer + RNG + next epoch, rewritten atomically each epoch
      tokenizer.json          text tasks: the tokenizer
      metrics.json            the final metrics
      history.csv             one row per epoch, across resumes
      training-curve.png      the history drawn

A task's ``train(config, options)`` calls :func:`start_run`, then :func:`fit_in_run`, then
writes ``metrics.json`` with :meth:`Run.write_json`::

    run = start_run(options, "sentiment", config, data=fingerprint(config.data))
    start, seconds = fit_in_run(model, run, train_batches, val_batches, epochs=config.epochs)
    model.save(run.model_path)          # only rank 0 writes (Run.is_writer)
    run.write_json(METRICS_FILE, metrics)

Resuming: an existing run directory is resumed from its checkpoint (``--resume`` requires one,
``--no-resume`` starts the epochs over) only when it holds the same task, config (apart from
``Config.RESUMABLE_KEYS`` such as ``epochs``) and data; otherwise one line names the keys that
differ and ``--overwrite``. Under ``torchrun`` every process reads and trains, rank 0 alone
writes, and :func:`fit_in_run` hands each process its shard of every batch.

No torch at import time: the CLI builds ``train``'s options from :class:`TrainOptions`.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from rnnkit.config import Config, non_negative_int, positive_int
from rnnkit.errors import CheckpointError, ConfigError, DataError, invalid
from rnnkit.utils.io import atomic_write_json

logger = logging.getLogger(__name__)

FORMAT = "rnnkit.run/1"
RUN_FILE = "run.json"
MODEL_FILE = "model.safetensors"
CHECKPOINT_FILE = "checkpoint.safetensors"
TOKENIZER_FILE = "tokenizer.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
CURVE_FILE = "training-curve.png"


# --------------------------------------------------------------------------- processes
def process_rank() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) in a plain process."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def is_writer() -> bool:
    """True in the one process that writes files: rank 0, or the only process."""
    return process_rank()[0] == 0


def _barrier() -> None:
    """Wait for every torchrun process (joining the process group first); nothing without torchrun."""
    if process_rank()[1] <= 1:
        return
    import torch

    from rnnkit.models import distributed

    distributed.setup(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    distributed.barrier()


# ----------------------------------------------------------------------------- options
@dataclasses.dataclass
class TrainOptions:
    """What every ``rnnkit train <task>`` takes beside the task's config.

    ``epochs``, ``seed``, ``threads``, ``max_steps`` and ``max_samples`` are also written into
    the task's config when it has a field of that name (so run.json records them);
    ``None`` keeps the config's value.
    """

    out: Path  # the run directory (created if missing)
    epochs: int | None = None
    seed: int | None = None
    threads: int | None = None  # torch CPU threads; None: torch's default
    quiet: bool = False  # no progress bar, no per-epoch lines
    resume: bool | None = None  # None: resume when a checkpoint exists; True: require one; False: start over
    overwrite: bool = False  # delete the directory's files first (a different config or data)
    max_steps: int | None = None  # at most this many batches per epoch (quick runs)
    max_samples: int | None = None  # at most this many training samples (quick runs)

    COMMON: ClassVar[tuple[str, ...]] = ("epochs", "seed", "threads", "max_steps", "max_samples")

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        non_negative_int("epochs", self.epochs, allow_none=True)
        non_negative_int("seed", self.seed, allow_none=True)
        for name in ("threads", "max_steps", "max_samples"):
            positive_int(name, getattr(self, name), allow_none=True)
        if self.overwrite and self.resume is True:
            raise ConfigError("--overwrite and --resume contradict each other: give one of them.")

    @property
    def verbose(self) -> int:
        """``fit``'s verbosity: the progress bar unless quiet."""
        return 0 if self.quiet else 1

    def overrides(self, config_cls: type[Config]) -> dict[str, Any]:
        """The common options the config has a field for, ready for ``from_dict``/``from_toml``."""
        keys = set(config_cls.keys())
        out = {}
        for option in self.COMMON:
            key = config_cls.OPTION_FIELDS.get(option, option)
            if key in keys and getattr(self, option) is not None:
                out[key] = getattr(self, option)
        return out

    def apply_threads(self) -> None:
        """``torch.set_num_threads(threads)`` when given (imports torch: call it from train)."""
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)


# -------------------------------------------------------------------------- fingerprint
def fingerprint(source: str | os.PathLike[str]) -> dict[str, str]:
    """What identifies the training data: a file's SHA-256, or a bundled dataset's name.

    Stored in run.json; resuming on other data is refused."""
    path = Path(source)
    if path.is_file():
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return {"source": str(source), "fingerprint": f"sha256:{digest.hexdigest()}"}
    return {"source": str(source), "fingerprint": f"dataset:{source}"}


# ---------------------------------------------------------------------------------- Run
@dataclasses.dataclass
class Run:
    """An opened run directory: where it is, the task and config it holds, how to resume."""

    path: Path
    task: str
    config: dict[str, Any]
    data: dict[str, str] | None = None
    resume: bool | None = None  # the resume policy fit_in_run follows
    quiet: bool = False

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT_FILE

    @property
    def is_writer(self) -> bool:
        return is_writer()

    @property
    def resuming(self) -> bool:
        """Whether training continues from the checkpoint (read tokenizers etc. back, do not refit)."""
        return self.resume is not False and self.checkpoint_path.exists()

    def write_json(self, name: str, payload: Any) -> Path:
        """JSON into the run directory, atomically, from rank 0 only."""
        path = self.file(name)
        if self.is_writer:
            atomic_write_json(path, payload, sort_keys=True)
        return path

    def read_json(self, name: str) -> Any:
        path = self.file(name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"run directory {str(self.path)!r} has no {name}.") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{str(path)!r} is not valid JSON: {exc}") from None


def open_run(path: str | os.PathLike[str], task: str | Sequence[str] | None = None) -> Run:
    """Open an existing run directory, checking it holds ``task`` (one of them, for a sequence)."""
    root = Path(path)
    meta_path = root / RUN_FILE
    if not root.is_dir():
        raise DataError(f"run directory {str(root)!r} does not exist: train one first (rnnkit train ...).")
    if not meta_path.is_file():
        raise DataError(f"{str(root)!r} is not an rnnkit run directory: it has no {RUN_FILE}.")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{str(meta_path)!r} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise DataError(invalid("format", got, f"{FORMAT!r} in {str(meta_path)!r}"))
    run = Run(root, str(meta.get("task")), dict(meta.get("config") or {}), meta.get("data"))
    wanted = (task,) if isinstance(task, str) else task
    if wanted is not None and run.task not in wanted:
        expected = " or ".join(repr(t) for t in wanted)
        raise ConfigError(f"run directory {str(root)!r} holds a {run.task!r} run: expected a {expected} run.")
    return run


def open_trained_run(path: str | os.PathLike[str], task: str | Sequence[str] | None = None) -> Run:
    """:func:`open_run`, for a predictor's ``load``: the run must also hold a trained model."""
    run = open_run(path, task)
    if not run.model_path.exists():
        raise DataError(f"run directory {str(run.path)!r} has no trained model yet ({MODEL_FILE}).")
    return run


def _clear(root: Path) -> None:
    """--overwrite: remove the files of a run directory (only one that holds run.json; never folders)."""
    for entry in root.iterdir():
        if entry.is_file() or entry.is_symlink():
            entry.unlink()


def start_run(
    options: TrainOptions,
    task: str,
    config: Config,
    *,
    data: Mapping[str, str] | None = None,
) -> Run:
    """Create or reopen ``options.out`` for training ``task`` with ``config`` on ``data``.

    An existing run of another task, config or data is refused with one line naming the keys
    that differ, unless ``options.overwrite`` (which deletes its files first). Rank 0 writes
    run.json; under torchrun every process waits for it."""
    from rnnkit import __version__

    root = options.out
    if root.exists() and not root.is_dir():
        raise ConfigError(invalid("out", str(root), "a directory (this is a file)"))
    existing = (root / RUN_FILE).is_file()
    resume = options.resume
    if existing and options.overwrite:
        if is_writer():
            _clear(root)
        resume = False
    elif existing:
        old = open_run(root)
        differ = []
        if old.task != task:
            differ.append(f"task ({old.task!r} there, {task!r} now)")
        else:
            stored = config.to_dict()
            for key in config.differences(old.config):
                differ.append(f"{key} ({old.config.get(key)!r} there, {stored.get(key)!r} now)")
            if (
                data is not None
                and old.data is not None
                and old.data.get("fingerprint") != data.get("fingerprint")
            ):
                differ.append(
                    f"data ({old.data.get('source')!r} there, {data.get('source')!r} now, other contents)"
                )
        if differ:
            raise ConfigError(
                f"{str(root)!r} holds a run with a different "
                + ", ".join(differ)
                + ": choose another --out, or add --overwrite to start it over."
            )
    elif resume is True:
        raise CheckpointError(f"cannot resume: {str(root)!r} holds no run (no {RUN_FILE}).")
    run = Run(root, task, config.to_dict(), dict(data) if data is not None else None, resume, options.quiet)
    if resume is True and not run.checkpoint_path.exists():
        raise CheckpointError(f"cannot resume: {str(root)!r} has no checkpoint ({CHECKPOINT_FILE}).")
    _barrier()  # every process has read the old state before rank 0 changes it
    if is_writer():
        payload = {"format": FORMAT, "task": task, "config": run.config, "rnnkit_version": __version__}
        if data is not None:
            payload["data"] = dict(data)
        atomic_write_json(root / RUN_FILE, payload, sort_keys=True)
    _barrier()
    return run


# ------------------------------------------------------------------------------ sharding
class ShardedBatches:
    """Under torchrun, process r takes rows r, r + N, ... of every batch (N processes).

    The union of the shards is the single-process batch, and DistributedDataParallel averages
    the gradients, so the training follows the single-process one (as ``fit`` does for arrays).
    A batch with fewer rows than processes is skipped on every process: a process with no rows
    would have no loss to back-propagate."""

    def __init__(self, batches: Any, rank: int, world: int) -> None:
        self.batches, self.rank, self.world = batches, rank, world
        self._current: int | None = None

    def __len__(self) -> int:
        return len(self.batches)

    def _cut(self, item: Any) -> Any:
        if isinstance(item, (tuple, list)):
            return type(item)(self._cut(t) for t in item)
        if item is None or not hasattr(item, "shape"):
            return item
        return item[self.rank :: self.world]  # (B, ...) -> (~B / N, ...)

    def __iter__(self) -> Iterator[Any]:
        for i, batch in enumerate(self.batches):
            first = batch[0] if isinstance(batch, (tuple, list)) else batch
            if len(first) < self.world:
                continue
            self._current = i  # the wrapped batches' own index, for on_batch_begin
            yield self._cut(batch)

    def on_batch_begin(self, model: Any, batch: int) -> None:
        """The wrapped hook (a TBPTT's per-stream state resets) names rows of the whole batch:
        it gets a model that resets this process's rows among them."""
        hook = getattr(self.batches, "on_batch_begin", None)
        if hook is not None:
            hook(_ShardRows(model, self.rank, self.world), batch if self._current is None else self._current)

    def __getattr__(self, name: str) -> Any:  # on_epoch_begin hooks etc. of the wrapped batches
        return getattr(self.batches, name)


class _ShardRows:
    """``model`` as seen by a hook over whole batches: row i of a batch is row i // N of process i % N."""

    def __init__(self, model: Any, rank: int, world: int) -> None:
        self.model, self.rank, self.world = model, rank, world

    def reset_states(self, indices: Any = None) -> None:
        if indices is None:
            self.model.reset_states()
            return
        local = [int(i) // self.world for i in indices if int(i) % self.world == self.rank]
        if local:
            self.model.reset_states(indices=local)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def shard(batches: Any) -> Any:
    """``batches`` for this process: unchanged without torchrun or for a torch ``Dataset``
    (``fit`` gives those a DistributedSampler), else :class:`ShardedBatches`."""
    rank, world = process_rank()
    if world <= 1 or batches is None:
        return batches
    import torch

    if isinstance(batches, torch.utils.data.Dataset):
        return batches
    return ShardedBatches(batches, rank, world)


# ------------------------------------------------------------------------------- fitting
def fit_in_run(
    model: Any,
    run: Run,
    train: Any,
    validation: Any = None,
    *,
    epochs: int,
    callbacks: Sequence[Any] = (),
    batch_size: int | None = None,
) -> tuple[int, float]:
    """``model.fit`` with a checkpoint per epoch, history.csv and the training curve; resumes.

    ``train``/``validation`` are iterables of batches, torch Datasets, or ``(x, y)`` array
    pairs (then ``batch_size`` applies and ``fit`` shuffles); under torchrun each process
    gets its shard. Resumes from the run's checkpoint as ``run.resume`` says (see
    :class:`TrainOptions`). Returns (the epoch training started from, seconds spent)."""
    from rnnkit.models.callbacks import Callback, CSVLogger
    from rnnkit.models.saving import restore_training_state

    class EpochCheckpoint(Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            if is_writer():  # written to a temporary file and renamed: a kill leaves the old one
                self.model.save(run.checkpoint_path, epoch=epoch + 1, rng_state=True)

    class EpochLog(Callback):
        def __init__(self) -> None:
            super().__init__()
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            shown = ", ".join(f"{k}={v:.4f}" for k, v in (logs or {}).items())
            logger.info("epoch %d/%d: %s (%.0f s)", epoch + 1, epochs, shown, time.perf_counter() - self.t0)

    arrays = isinstance(train, tuple) and len(train) == 2 and all(hasattr(t, "shape") for t in train)
    if not arrays:  # fit shards arrays itself (each global batch split across the processes)
        train, validation = shard(train), shard(validation)
    start = 0
    if run.resuming:
        import torch

        first = torch.as_tensor(train[0][:1]) if arrays else next(iter(train))[0]
        model._prepare(first)  # build the lazy weights the checkpoint fills
        start = restore_training_state(model, run.checkpoint_path)
        logger.info("resuming %s from epoch %d", run.path, start + 1)
    history = run.file(HISTORY_FILE)
    cbs = [
        *callbacks,
        CSVLogger(history, append=start > 0 and history.exists()),
        EpochCheckpoint(),
        EpochLog(),
    ]
    t0 = time.perf_counter()
    if start < epochs:
        x, y = train if arrays else (train, None)
        model.fit(
            x,
            y,
            batch_size=batch_size,
            shuffle=True,
            epochs=epochs,
            initial_epoch=start,
            validation_data=validation,
            callbacks=cbs,
            verbose=0 if run.quiet else 1,
        )
    seconds = time.perf_counter() - t0
    write_curve(run)
    return start, seconds


def read_history(path: str | os.PathLike[str]) -> dict[str, list[float]]:
    """history.csv as {metric: values per epoch} (empty when there is none)."""
    path = Path(path)
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    return {
        k: [float(r[k]) for r in rows]
        for k in rows[0]
        if k != "epoch" and all(r.get(k) not in ("", None, "NA") for r in rows)
    }


def write_curve(run: Run) -> None:
    """training-curve.png from history.csv (every epoch, across resumes); rank 0 only."""
    if not is_writer():
        return
    logs = read_history(run.file(HISTORY_FILE))
    if not logs:
        return
    from rnnkit.models import plot_history

    try:
        plot_history(logs, run.file(CURVE_FILE), title=f"{run.task} training ({run.path.name}/)")
    except ImportError:
        logger.warning("matplotlib is not installed: no %s", CURVE_FILE)
