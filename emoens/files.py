"""Atomic file output: every file emoens writes goes through here (temporary file + rename).

A reader never sees a half-written file: either the previous version or the new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8",
                 newline: str | None = None) -> Iterator[Any]:
    """Open a temporary file beside ``path``; on success fsync and rename it over ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    binary = "b" in mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, mode, encoding=None if binary else encoding,
                       newline=None if binary else newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask() can only be read by setting it, which is not thread-safe.
_UMASK = _current_umask()


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write UTF-8 text."""
    with atomic_write(path, "w") as handle:
        handle.write(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically write bytes."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as pretty, UTF-8 JSON (Korean kept readable)."""
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def write_csv(path: str | os.PathLike, frame) -> None:
    """Atomically write a pandas DataFrame as UTF-8 CSV without the index."""
    with atomic_write(path, "w", newline="") as handle:
        frame.to_csv(handle, index=False)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a staging folder beside ``path``; on success it replaces ``path`` (an existing one is
    removed first), on an exception it is deleted and ``path`` is left untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    staging.chmod(0o777 & ~_UMASK)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        yield staging
        if path.exists():
            shutil.rmtree(path)
        os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
