"""Capture and restore every generator's state: resumable, inspectable, never pickled.

An :class:`RNGState` covers the registered global sources (see
:mod:`reprotorch.sources`) and the generator objects registered by name with
:func:`register_generator`. It is stored as JSON so that loading a checkpoint's
RNG state can never execute code, and so that a person can read it.
"""

from __future__ import annotations

import functools
import random
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._io import atomic_write_json, read_json_document
from .errors import StateMismatchError
from .sources import (
    RandomSource,
    decode_numpy_legacy_state,
    decode_python_random_state,
    decode_torch_generator_state,
    encode_numpy_legacy_state,
    encode_python_random_state,
    encode_torch_generator_state,
    iter_sources,
)

__all__ = [
    "RNGState",
    "capture_rng_state",
    "restore_rng_state",
    "isolate_rng",
    "register_generator",
    "unregister_generator",
    "FORMAT_NAME",
    "FORMAT_VERSION",
]

FORMAT_NAME = "reprotorch.rng_state"
FORMAT_VERSION = 1

# --------------------------------------------------------------------------- generators


class _GeneratorCodec:
    """How to read and write the state of one kind of generator object."""

    def __init__(
        self,
        kind: str,
        get: Callable[[Any], Any],
        set_: Callable[[Any, Any], None],
    ) -> None:
        self.kind = kind
        self.get = get
        self.set = set_


def _codec_for(obj: Any) -> _GeneratorCodec:
    if isinstance(obj, random.Random):
        return _GeneratorCodec(
            "random.Random",
            lambda g: encode_python_random_state(g.getstate()),
            lambda g, s: g.setstate(decode_python_random_state(s)),
        )
    import numpy as np

    if isinstance(obj, np.random.RandomState):
        return _GeneratorCodec(
            "numpy.random.RandomState",
            lambda g: encode_numpy_legacy_state(g.get_state(legacy=False)),
            lambda g, s: g.set_state(decode_numpy_legacy_state(s)),
        )
    if isinstance(obj, np.random.Generator):
        return _GeneratorCodec("numpy.random.Generator", _numpy_generator_state, _set_numpy_generator_state)
    import torch

    if isinstance(obj, torch.Generator):
        return _GeneratorCodec(
            "torch.Generator",
            lambda g: {"device": str(g.device), "state": encode_torch_generator_state(g.get_state())},
            _set_torch_generator_state,
        )
    raise TypeError(
        "register_generator accepts random.Random, numpy.random.Generator, "
        f"numpy.random.RandomState or torch.Generator; got {type(obj).__name__}"
    )


def _jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.dtype.str, "data": value.tolist()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


def _unjsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, dict):
        if set(value) == {"__ndarray__", "data"}:
            return np.asarray(value["data"], dtype=np.dtype(value["__ndarray__"]))
        return {k: _unjsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unjsonable(v) for v in value]
    return value


def _numpy_generator_state(g: Any) -> Any:
    return _jsonable(g.bit_generator.state)


def _set_numpy_generator_state(g: Any, state: Any) -> None:
    if not isinstance(state, dict) or "bit_generator" not in state:
        raise ValueError("numpy Generator state: expected a dict with a 'bit_generator' key")
    expected = type(g.bit_generator).__name__
    if state["bit_generator"] != expected:
        raise ValueError(
            f"numpy Generator state is for {state['bit_generator']!r}, this generator uses {expected!r}"
        )
    g.bit_generator.state = _unjsonable(state)


def _set_torch_generator_state(g: Any, state: Any) -> None:
    if not isinstance(state, dict) or set(state) != {"device", "state"}:
        raise ValueError("torch.Generator state: expected keys 'device' and 'state'")
    if state["device"] != str(g.device):
        raise ValueError(
            f"torch.Generator state was saved from device {state['device']!r}, "
            f"this generator is on {str(g.device)!r}"
        )
    g.set_state(decode_torch_generator_state(state["state"], "torch.Generator state", g.get_state().numel()))


class _StrongRef:
    """Same call shape as ``weakref.ref`` for objects that cannot be weakly referenced."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def __call__(self) -> Any:
        return self._obj


@dataclass
class _Registered:
    ref: Callable[[], Any]
    codec: _GeneratorCodec


_generators: dict[str, _Registered] = {}
_generators_lock = threading.RLock()


def register_generator(obj: Any, name: str) -> None:
    """Include a generator object in every capture and restore, keyed by ``name``.

    The name, not the object, identifies it: a state captured in one process
    restores into the freshly created generator of a new process registered under
    the same name (that is how resume works). ``random.Random`` and
    ``torch.Generator`` are held weakly; NumPy generators cannot be weakly
    referenced and are held until :func:`unregister_generator`. Registering a name
    again replaces the previous object.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    codec = _codec_for(obj)
    ref: Callable[[], Any]
    try:
        ref = weakref.ref(obj)
    except TypeError:  # NumPy generators: hold a strong reference
        ref = _StrongRef(obj)
    with _generators_lock:
        _generators[name] = _Registered(ref, codec)


def unregister_generator(name: str) -> None:
    """Forget the generator registered as ``name`` (``KeyError`` if there is none)."""
    with _generators_lock:
        try:
            del _generators[name]
        except KeyError:
            raise KeyError(
                f"no generator registered as {name!r}; registered: {sorted(_generators)}"
            ) from None


def _live_generators() -> dict[str, tuple[Any, _GeneratorCodec]]:
    out = {}
    with _generators_lock:
        for name, reg in list(_generators.items()):
            obj = reg.ref()
            if obj is None:
                del _generators[name]
            else:
                out[name] = (obj, reg.codec)
    return out


# --------------------------------------------------------------------------- metadata


def _metadata() -> dict[str, Any]:
    import platform

    import numpy as np
    import torch

    from . import __version__

    meta: dict[str, Any] = {
        "reprotorch": __version__,
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "cuda_device_count": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "rank": None,
        "world_size": None,
    }
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        meta["rank"] = dist.get_rank()
        meta["world_size"] = dist.get_world_size()
    return meta


# --------------------------------------------------------------------------- RNGState


@dataclass
class RNGState:
    """The state of every registered source and generator at one moment.

    ``sources`` maps a source name to its JSON-able state, ``generators`` maps a
    registered generator name to ``{"type": ..., "state": ...}``, and
    ``metadata`` records library versions, the CUDA device count and, under
    ``torch.distributed``, rank and world size.
    """

    sources: dict[str, Any] = field(default_factory=dict)
    generators: dict[str, dict[str, Any]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON document (what :meth:`save` writes)."""
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "metadata": self.metadata,
            "sources": self.sources,
            "generators": self.generators,
        }

    # PyTorch convention: a state dict can go into torch.save(..., weights_only=True)
    # checkpoints only as plain containers, which to_dict() is.
    state_dict = to_dict

    @classmethod
    def from_dict(cls, document: Any) -> RNGState:
        """Validate and wrap a document produced by :meth:`to_dict`."""
        if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
            raise ValueError(
                f"not a reprotorch RNG state: expected a JSON object with format {FORMAT_NAME!r}"
            )
        version = document.get("version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"RNG state format version {version!r} is not supported (this reprotorch reads "
                f"version {FORMAT_VERSION}); upgrade reprotorch to read it"
            )
        missing = [k for k in ("metadata", "sources", "generators") if not isinstance(document.get(k), dict)]
        if missing:
            raise ValueError(f"RNG state is corrupt: missing or malformed {', '.join(missing)}")
        for name, entry in document["generators"].items():
            if not isinstance(entry, dict) or set(entry) != {"type", "state"}:
                raise ValueError(f"RNG state is corrupt: generator {name!r} needs 'type' and 'state'")
        return cls(
            sources=dict(document["sources"]),
            generators=dict(document["generators"]),
            metadata=dict(document["metadata"]),
        )

    def save(self, path: str | Path) -> None:
        """Write the state as JSON, atomically (temporary file, fsync, rename)."""
        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> RNGState:
        """Read a file written by :meth:`save`; anything else raises ``ValueError``. Never unpickles."""
        return cls.from_dict(read_json_document(path, kind="reprotorch RNG state"))

    def __repr__(self) -> str:
        return f"RNGState(sources={sorted(self.sources)}, generators={sorted(self.generators)})"


def capture_rng_state() -> RNGState:
    """The state of every available source and every live registered generator."""
    sources = {s.name: s.get_state() for s in iter_sources()}
    generators = {
        name: {"type": codec.kind, "state": codec.get(obj)}
        for name, (obj, codec) in _live_generators().items()
    }
    return RNGState(sources=sources, generators=generators, metadata=_metadata())


def _mismatches(state: RNGState, available: dict[str, RandomSource], live: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for name in available:
        if name not in state.sources:
            problems.append(f"source {name!r} exists in this process but not in the state")
    for name in state.sources:
        if name not in available:
            problems.append(f"source {name!r} is in the state but not available in this process")
    for name in live:
        if name not in state.generators:
            problems.append(f"generator {name!r} is registered here but not in the state")
    for name in state.generators:
        if name not in live:
            problems.append(f"generator {name!r} is in the state but not registered here")
    here = _metadata()
    for key, label in (("cuda_device_count", "CUDA device count"), ("world_size", "world size")):
        saved = state.metadata.get(key)
        if key in state.metadata and saved != here[key]:
            problems.append(f"{label} was {saved} when saved, is {here[key]} now")
    return problems


def _set_with(codec: _GeneratorCodec, obj: Any, state: Any) -> None:
    codec.set(obj, state)


def restore_rng_state(state: RNGState, *, strict: bool = True) -> None:
    """Put every source and registered generator back to ``state``.

    ``strict=True`` raises :class:`~reprotorch.StateMismatchError` when the state
    does not fit this process (a source or generator on one side only, another
    CUDA device count or world size); ``strict=False`` restores what both sides
    have (the CUDA states only for the same device count) and warns with the
    list of what it skipped. Either all generators are
    restored or, on any error, none has changed.
    """
    if not isinstance(state, RNGState):
        raise TypeError(
            f"expected an RNGState (from capture_rng_state or RNGState.load), got {type(state).__name__}"
        )
    available = {s.name: s for s in iter_sources()}
    live = _live_generators()
    problems = _mismatches(state, available, live)
    if not strict and "cuda" in available and "cuda" in state.sources:
        saved_count = state.metadata.get("cuda_device_count")
        if "cuda_device_count" in state.metadata and saved_count != _metadata()["cuda_device_count"]:
            # One state per device: another device count cannot be applied, and trying
            # would abort the whole restore as 'corrupt'. strict=False skips it instead.
            del available["cuda"]
            problems.append("source 'cuda' (its per-device states)")
    if problems and strict:
        raise StateMismatchError(
            "RNG state does not fit this process: " + "; ".join(problems)
            + ". Pass strict=False to restore what matches."
        )
    if problems:
        warnings.warn(
            "reprotorch: restored the RNG state partially; skipped: " + "; ".join(problems),
            RuntimeWarning,
            stacklevel=2,
        )
    for name, entry in state.generators.items():
        if name in live and entry["type"] != live[name][1].kind:
            raise StateMismatchError(
                f"generator {name!r} was saved as {entry['type']}, is now a {live[name][1].kind}"
            )

    # Apply with rollback: if any set_state fails, put back what was already changed.
    applied: list[tuple[Callable[[Any], None], Any]] = []
    entry_label = ""
    try:
        for name, src_state in state.sources.items():
            if name in available:
                entry_label = f"source {name!r}"
                src = available[name]
                before = src.get_state()
                src.set_state(src_state)
                applied.append((src.set_state, before))
        for name, entry in state.generators.items():
            if name in live:
                entry_label = f"generator {name!r}"
                obj, codec = live[name]
                before = codec.get(obj)
                codec.set(obj, entry["state"])
                applied.append((functools.partial(_set_with, codec, obj), before))
    except Exception as exc:
        for setter, before in reversed(applied):
            setter(before)
        # A malformed entry surfaces from the libraries in many shapes: float() of a
        # list (TypeError), a missing key (KeyError), torch's "Invalid mt19937 state"
        # (RuntimeError). They all mean one thing to the caller: a corrupt state.
        if isinstance(exc, (ValueError, TypeError, LookupError, RuntimeError, OverflowError)):
            detail = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            raise ValueError(
                f"RNG state is corrupt; nothing was restored: {entry_label}: {detail}"
            ) from exc
        raise


@contextmanager
def isolate_rng() -> Iterator[RNGState]:
    """Run a block without disturbing any generator: everything is restored on exit, also on error.

    Generators registered inside the block are left alone.
    """
    saved = capture_rng_state()
    try:
        yield saved
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            restore_rng_state(saved, strict=False)
