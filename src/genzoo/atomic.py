"""Atomic file writes: every file a run folder holds is written whole or not at all.

A file is written beside its destination under a temporary name, fsynced, then renamed over
it (`os.replace` is atomic on POSIX and Windows), and the folder is fsynced so the rename
itself survives a power cut. A crash at any moment leaves either the old file or the new one,
never a truncated mix (DESIGN section 5).
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_beside(path: Path) -> Path:
    """A hidden temporary name in `path`'s folder, unique to this process."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def replace_synced(tmp: Path, path: Path) -> None:
    """Flush `tmp` to disk, rename it over `path`, and flush the folder."""
    with tmp.open("rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` whole or not at all; a failed write leaves the old file."""
    path = Path(path)
    tmp = temporary_beside(path)
    try:
        tmp.write_text(text)
        replace_synced(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
