"""One run at a time per results folder: a lock file beside it.

Two runs writing the same `--out` at once would each replace the other's folder and share
its cache; the later one is refused instead. The lock is an OS lock on an open file
(`flock`, or `msvcrt.locking` on Windows), so a run that is killed releases it at once:
a lock file left behind by `kill -9` locks nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt


class Busy(Exception):
    """Another process holds the lock; the message says which, when it can."""


def lock_path(out: Path) -> Path:
    """The lock file of results folder `out`: hidden, beside it."""
    return out.parent / f".{out.name}.lock"


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the lock file `path` (created if need be) for the duration; raise `Busy` at
    once if another process holds it. The file is removed on leaving."""
    descriptor = _acquire(Path(path))
    try:
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        yield
    finally:
        # Removed while still held: a process that opened the old file finds, once it
        # gets the lock, that the path no longer names it, and starts again.
        Path(path).unlink(missing_ok=True)
        os.close(descriptor)


def _acquire(path: Path) -> int:
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            _lock(descriptor)
        except OSError:
            holder = _holder(descriptor)
            os.close(descriptor)
            raise Busy(
                f"another run (process {holder}) is writing there"
                if holder
                else "another run is writing there"
            ) from None
        if _same_file(descriptor, path):
            return descriptor
        os.close(descriptor)  # removed or replaced by the holder we waited on: again


def _lock(descriptor: int) -> None:
    if fcntl is not None:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(descriptor)
    return (mine.st_dev, mine.st_ino) == (current.st_dev, current.st_ino)


def _holder(descriptor: int) -> str:
    try:
        text = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
    except (OSError, AttributeError):
        return ""
    return text if text.isdigit() else ""
