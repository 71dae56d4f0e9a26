"""Fingerprint the files a command writes (checkpoints, predictions, metrics) by content.

Two checkpoints with the same tensors can differ byte for byte (container
metadata, zip record order), and a byte comparison would then cry wolf; so
tensor files are loaded -- safely: ``torch.load(weights_only=True)``, NumPy with
``allow_pickle=False``, safetensors when that package is installed -- and their
content is fingerprinted. Anything else, or a file that cannot be loaded safely,
is fingerprinted by its bytes, and the record says so.
"""

from __future__ import annotations

import glob
import importlib.util
import os
from dataclasses import dataclass
from typing import Any

__all__ = ["FileFingerprint", "fingerprint_file", "expand_patterns", "file_stamp"]

_TORCH_SUFFIXES = (".pt", ".pth")
_NUMPY_SUFFIXES = (".npy", ".npz")
_SAFETENSORS_SUFFIXES = (".safetensors",)


@dataclass(frozen=True)
class FileFingerprint:
    """A file's fingerprint and how it was taken (``"content"`` of its tensors or ``"bytes"``)."""

    path: str
    fingerprint: str
    how: str
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"path": self.path, "fingerprint": self.fingerprint, "how": self.how, "note": self.note}


def _fingerprint(obj: Any) -> str:
    from ..fingerprint import fingerprint

    return str(fingerprint(obj))


def _by_bytes(path: str, note: str | None = None) -> FileFingerprint:
    with open(path, "rb") as handle:
        data = handle.read()
    return FileFingerprint(path, _fingerprint(data), "bytes", note)


def _load_content(path: str) -> Any:
    lower = path.lower()
    if lower.endswith(_TORCH_SUFFIXES):
        import torch

        return torch.load(path, map_location="cpu", weights_only=True)
    if lower.endswith(".npy"):
        import numpy as np

        return np.load(path, allow_pickle=False)
    if lower.endswith(".npz"):
        import numpy as np

        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    if lower.endswith(_SAFETENSORS_SUFFIXES):
        from safetensors.numpy import load_file

        return load_file(path)
    raise LookupError("not a tensor file")


def fingerprint_file(path: str) -> FileFingerprint:
    """The content fingerprint of a tensor file, or the byte fingerprint of any other file."""
    lower = path.lower()
    tensor_file = lower.endswith(_TORCH_SUFFIXES + _NUMPY_SUFFIXES) or (
        lower.endswith(_SAFETENSORS_SUFFIXES) and importlib.util.find_spec("safetensors") is not None
    )
    if not tensor_file:
        return _by_bytes(path)
    try:
        content = _load_content(path)
    except Exception as exc:  # not loadable safely: compare what we can, and say so
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return _by_bytes(path, f"compared by bytes: could not be loaded safely ({reason[:200]})")
    return FileFingerprint(path, _fingerprint(content), "content")


def expand_patterns(patterns: list[str]) -> dict[str, list[str]]:
    """Each glob pattern (``**`` allowed, relative to the working directory) and the files it matches now."""
    return {
        pattern: sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        for pattern in patterns
    }


def file_stamp(path: str) -> tuple[int, int] | None:
    """``(mtime_ns, size)``, to tell whether a run rewrote a file; ``None`` if it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)
