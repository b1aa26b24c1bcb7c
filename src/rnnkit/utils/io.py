"""The one atomic file writer: readers see the old file or the new one, never half of one.

Every file rnnkit writes (weights, checkpoints, JSON, CSV, PNG, caches) goes through here:

- :func:`atomic_write` -- bytes or text;
- :func:`atomic_write_json` -- a JSON document (UTF-8, trailing newline);
- :func:`atomic_path` -- a context manager yielding a temporary path for writers that want a
  file name of their own (``safetensors.torch.save_file``, ``fig.savefig``, ``df.to_csv``);
- :func:`atomic_replace` -- publish a file some other program wrote (a compiler's output).

How: a temporary file in the target's own folder (a rename is atomic only within one file
system), the bytes fsync'ed, ``os.replace`` over the target, then the folder fsync'ed so the
rename survives a power cut. A writer that raises leaves the previous file untouched and no
temporary file behind.

Permissions: the temporary file is created with ``os.open(..., 0o666)``, so the kernel applies
the process umask exactly as a plain ``open(path, "w")`` would (0644 under the usual 022).
``tempfile.mkstemp`` would give 0600, and the rename would carry that onto the target: the
reason model and PNG files once came out 0600 beside 0644 JSON files. Reading the umask
instead (``os.umask`` sets it to read it) would race with other threads.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "atomic_replace", "atomic_write", "atomic_write_json"]


def _temp_name(path: Path) -> Path:
    # Hidden, in the same folder, unique per call: two writers of one target never share a file.
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _create(tmp: Path) -> int:
    # O_EXCL: never open a file someone else made under this name; 0o666 & ~umask, as open() does.
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a folder; the rename is still atomic
    finally:
        os.close(fd)


def atomic_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> Path:
    """Move the finished file ``src`` over ``dst`` (same file system): its bytes are synced
    first, so ``dst`` names the old file or the whole new one, even after a power cut."""
    src, dst = Path(src), Path(dst)
    with open(src, "rb+") as f:  # the writer may have closed its own handle: sync by name
        os.fsync(f.fileno())
    os.replace(src, dst)
    _fsync_dir(dst.parent)
    return dst


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without an error, the file
    written there replaces ``path`` atomically. On an error it is removed and ``path`` kept.

    >>> with atomic_path("fig.png") as tmp:   # doctest: +SKIP
    ...     fig.savefig(tmp, format="png")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    os.close(_create(tmp))  # made now, with the umask's mode; the writer truncates and fills it
    try:
        yield tmp
        atomic_replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` (bytes, or text encoded with ``encoding``) to ``path`` atomically."""
    payload = data.encode(encoding) if isinstance(data, str) else bytes(data)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path)
    try:
        with os.fdopen(_create(tmp), "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_json(
    path: str | os.PathLike[str],
    payload: Any,
    *,
    indent: int | None = 2,
    sort_keys: bool = False,
    ensure_ascii: bool = False,
) -> Path:
    """``payload`` as JSON (UTF-8, one trailing newline) to ``path`` atomically.

    The text is made before anything touches the disk: a value JSON cannot encode raises
    ``TypeError``/``ValueError`` and leaves ``path`` as it was."""
    text = json.dumps(payload, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
    return atomic_write(path, text + "\n")
