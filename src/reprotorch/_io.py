"""Atomic file writes shared by every format reprotorch produces.

A checkpoint, manifest or RNG state that is half-written when a job is killed is
worse than none: it loads as garbage or not at all. Everything goes through a
temporary file in the same directory, is fsynced, then renamed over the target,
so a reader sees either the old file or the complete new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "read_json_document"]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one, never a mix."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        _chmod_like_a_plain_write(fd, target)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable; not every platform allows opening a directory
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _current_umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # Elsewhere the only way is to set it and put it back; set a restrictive value in
    # between, so a file another thread creates meanwhile is too private, never too open.
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _chmod_like_a_plain_write(fd: int, target: Path) -> None:
    """Give the temporary file the mode ``open(target, "w")`` would leave.

    ``mkstemp`` creates it readable by its owner only (0600), and the rename keeps
    that: RNG states, manifests and checkpoints in a shared run directory became
    unreadable to the rest of the team. Overwriting keeps the old file's mode;
    a new file gets ``0o666`` minus the umask.
    """
    try:
        mode = target.stat().st_mode & 0o7777
    except OSError:
        mode = 0o666 & ~_current_umask()
    try:
        os.fchmod(fd, mode)
    except (AttributeError, OSError):  # pragma: no cover - no fchmod (Windows): keep mkstemp's mode
        pass


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], document: Any) -> None:
    """Serialise ``document`` as indented JSON and write it atomically."""
    atomic_write_text(path, json.dumps(document, indent=1, sort_keys=False, allow_nan=False) + "\n")


def read_json_document(path: str | os.PathLike[str], *, kind: str) -> Any:
    """Read a JSON file, turning every way it can be wrong into a ``ValueError`` naming ``kind``.

    Never unpickles: a pickle (or any binary blob) is reported as "not JSON", so
    loading a file handed to us by someone else cannot execute code.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{kind} file {str(p)!r} does not exist") from None
    if raw[:1] == b"\x80":
        raise ValueError(
            f"{str(p)!r} is not a {kind}: it looks like a pickle file. reprotorch only reads "
            "its own JSON documents (unpickling could execute arbitrary code)."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{str(p)!r} is not a {kind}: the file is binary, not UTF-8 JSON") from None
    if not text.strip():
        raise ValueError(f"{str(p)!r} is not a {kind}: the file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{str(p)!r} is not a valid {kind}: JSON error at line {exc.lineno}, column "
            f"{exc.colno} ({exc.msg}); the file may be truncated or corrupt"
        ) from None
