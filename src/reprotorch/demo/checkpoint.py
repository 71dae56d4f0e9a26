"""Checkpoints that resume exactly: plain containers, written atomically, loaded without unpickling code.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts, so
``torch.load(..., weights_only=True)`` reads it and a checkpoint from elsewhere
cannot execute code. It carries, besides the model and optimiser, the *position*
of the run: the step, the RNG state (``reprotorch.capture_rng_state().to_dict()``)
and the data loader's ``state_dict()``.

Writes go to a temporary file in the same directory, are fsynced and renamed
over the target: a job killed mid-write leaves the previous checkpoint intact.
Files get the mode a plain ``open()`` would give them.
"""

from __future__ import annotations

import io
import os
import secrets
from pathlib import Path
from typing import Any

import torch

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "atomic_write_bytes", "atomic_write_text", "save_checkpoint", "load_checkpoint"]

FORMAT_NAME = "reprotorch.demo.checkpoint"
FORMAT_VERSION = 1


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename (then fsync the folder).

    The demo has its own small writer because it uses only reprotorch's public
    API. The temporary file is created with ``os.open(..., 0o666)`` so the umask
    applies exactly as for a plain ``open()`` -- ``tempfile.mkstemp`` would make
    it 0600, and the rename would leave checkpoints and the ablation's outputs
    unreadable to everyone else in a shared folder. Overwriting keeps the old
    file's mode.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:  # pragma: no cover - a 48-bit name collision
            continue
    try:
        try:
            os.fchmod(fd, path.stat().st_mode & 0o7777)
        except (OSError, AttributeError):  # a new file (or no fchmod): the umask's mode stays
            pass
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms that cannot open a folder (Windows)
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover - filesystems that refuse fsync on a folder
        pass
    finally:
        os.close(dir_fd)


def atomic_write_text(path: Path, text: str) -> None:
    """UTF-8 version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    """``torch.save`` the checkpoint dict (format and version added) atomically."""
    document = {"format": FORMAT_NAME, "version": FORMAT_VERSION, **checkpoint}
    buffer = io.BytesIO()
    torch.save(document, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` with ``weights_only=True``.

    A missing file raises ``FileNotFoundError``; anything that is not a demo
    checkpoint of a supported version raises ``ValueError`` saying what it is.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"checkpoint {str(p)!r} does not exist (expected a file written by the demo's train)")
    try:
        document = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or foreign files
        raise ValueError(
            f"{str(p)!r} is not a readable demo checkpoint ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); it may be truncated, "
            "or a pickle with code in it, which is never loaded"
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ValueError(f"{str(p)!r} is not a reprotorch demo checkpoint (no format {FORMAT_NAME!r})")
    if document.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"{str(p)!r} is a demo checkpoint of version {document.get('version')!r}; this reprotorch "
            f"reads version {FORMAT_VERSION}"
        )
    missing = [k for k in ("step", "model", "optimizer", "meta", "config", "history") if k not in document]
    if missing:
        raise ValueError(f"{str(p)!r} is a corrupt demo checkpoint: missing {', '.join(missing)}")
    # The fields train() reads before it changes anything: a wrong shape here must be a clear
    # error, not an AttributeError (or a negative step) in the middle of a resume.
    step = document["step"]
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"{str(p)!r} is a corrupt demo checkpoint: step must be an int >= 0, got {step!r}")
    for key in ("model", "optimizer", "meta", "config"):
        if not isinstance(document[key], dict):
            raise ValueError(
                f"{str(p)!r} is a corrupt demo checkpoint: {key} must be a dict, got {type(document[key]).__name__}"
            )
    seed = document["config"].get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"{str(p)!r} is a corrupt demo checkpoint: config['seed'] must be an int, got {seed!r}")
    history = document["history"]
    if not isinstance(history, dict) or not isinstance(history.get("loss"), list):
        raise ValueError(f"{str(p)!r} is a corrupt demo checkpoint: history must be a dict with a 'loss' list")
    return document
