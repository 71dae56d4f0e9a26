"""Atomic file writes shared by every format reprotorch produces.

A checkpoint, manifest or RNG state that is half-written when a job is killed is
worse than none: it loads as garbage or not at all. Everything goes through a
temporary file in the same directory, is fsynced, then renamed over the target,
so a reader sees either the old file or the complete new one.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "read_json_document"]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one, never a mix."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(directory, target)
    try:
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


def _create_temporary(directory: Path, target: Path) -> tuple[int, str]:
    """A new, exclusive temporary file next to ``target``, with the mode a plain ``open()`` would give.

    Not ``tempfile.mkstemp``: it creates the file owner-only (0600) and the rename
    keeps that, so RNG states, manifests and traces in a shared run directory were
    unreadable to the rest of the team. Creating it with 0o666 lets the umask
    apply as for any new file; overwriting keeps the old file's mode.
    """
    while True:
        tmp = os.path.join(directory, f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits met an existing name
            continue
        break
    try:
        os.chmod(tmp, target.stat().st_mode & 0o7777)
    except FileNotFoundError:
        pass
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return fd, tmp


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
