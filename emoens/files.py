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


def append_text(path: str | os.PathLike, text: str) -> None:
    """Append UTF-8 ``text`` in one write, then fsync: a kill leaves the earlier content whole
    (at worst a partial last block, which readers of append-only files drop)."""
    with open(path, "a", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as pretty, UTF-8 JSON (Korean kept readable)."""
    write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def write_csv(path: str | os.PathLike, frame) -> None:
    """Atomically write a pandas DataFrame as UTF-8 CSV without the index."""
    with atomic_write(path, "w", newline="") as handle:
        frame.to_csv(handle, index=False)


_STAGING = ".staging-"
_OLD = ".old-"


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
    return done


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(path: str | os.PathLike) -> list[Path]:
    """Delete staging/old copies of ``path`` left by killed runs (their process is gone)."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for tag in (_STAGING, _OLD):
        for leftover in path.parent.glob(f".{path.name}{tag}*"):
            try:
                pid = int(leftover.name[len(f".{path.name}{tag}"):].split("-")[0])
            except ValueError:
                continue
            if pid != os.getpid() and not _pid_alive(pid):
                shutil.rmtree(leftover, ignore_errors=True)
                removed.append(leftover)
    return removed


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, keep: bool = False) -> Iterator[Path]:
    """Yield a staging folder beside ``path``; on success it replaces ``path`` in one step (the old
    folder is swapped out, then deleted), on an exception it is deleted and ``path`` is untouched.

    ``keep=True`` starts the staging folder as a hard-linked copy of ``path``'s content, so that
    writing a few files into it replaces them together and keeps the rest. Staging folders of
    killed runs (``.NAME.staging-PID-…``) are removed first.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()  # replace the folder the link names, keep the link
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(path)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}{_STAGING}{os.getpid()}-", dir=path.parent))
    staging.chmod(0o777 & ~_UMASK)  # mkdtemp makes it private; the result is an ordinary folder
    try:
        if keep and path.is_dir():
            shutil.copytree(path, staging, symlinks=True, copy_function=os.link, dirs_exist_ok=True)
        yield staging
        _swap_in(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_in(staging: Path, path: Path) -> None:
    """Put ``staging`` at ``path``; an existing ``path`` is exchanged atomically, then removed."""
    if not path.exists() and not path.is_symlink():
        os.replace(staging, path)
        return
    if path.is_dir() and not path.is_symlink() and _exchange(staging, path):
        shutil.rmtree(staging, ignore_errors=True)  # staging now holds the old folder
        return
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}{_OLD}{os.getpid()}-", dir=path.parent))
    os.replace(path, old / "old")  # both renames are atomic; only between them is path absent
    os.replace(staging, path)
    shutil.rmtree(old, ignore_errors=True)
