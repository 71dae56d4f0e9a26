"""The registry of global random number generators.

Every capability of reprotorch that touches global randomness -- seeding,
capturing, restoring, isolating, per-sample reseeding -- is a loop over this
registry; none of them names a library directly. A third-party library with its
own global generator joins by implementing :class:`RandomSource` and calling
:func:`register_source`, or by advertising an object in the ``reprotorch.sources``
entry-point group.

The built-in sources import their library lazily: the registry can be listed in a
process that never imported torch or NumPy without importing them.
"""

from __future__ import annotations

import base64
import logging
import random
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "RandomSource",
    "register_source",
    "unregister_source",
    "get_source",
    "iter_sources",
    "source_names",
    "snapshot_functions",
    "is_on_device",
]

_log = logging.getLogger("reprotorch")

_MASK64 = (1 << 64) - 1
_MASK32 = (1 << 32) - 1


@runtime_checkable
class RandomSource(Protocol):
    """A global random number generator that reprotorch can seed, capture and restore.

    ``get_state`` must return JSON-serialisable data (dicts, lists, str, int,
    float, bool, None) so that states can be stored without pickle. ``seed``
    receives a non-negative integer of up to 128 bits; a generator that takes
    fewer bits should fold or truncate it and document what it keeps.

    Optional fast path: a source may also define ``snapshot() -> object`` and
    ``restore(snapshot)`` working on the library's native state object (no JSON
    encoding). Per-sample data seeding saves and restores the caller's
    generators around every sample in the main process, where the JSON encoding
    would dominate (about 40 µs for NumPy); :func:`snapshot_functions` uses the
    fast path when a source has it and falls back to ``get_state``/``set_state``.

    Optional flag: ``on_device = True`` marks a generator whose state lives on an
    accelerator, where reading the state back initialises the device. Seeding
    never reads such a source back (so it never initialises CUDA); see
    :func:`is_on_device`.
    """

    name: str

    def available(self) -> bool:
        """Whether the generator exists in this process (library installed, device present)."""
        ...

    def seed(self, seed: int) -> None:
        """Seed the generator deterministically from ``seed``."""
        ...

    def get_state(self) -> Any:
        """Return the full generator state as JSON-serialisable data."""
        ...

    def set_state(self, state: Any) -> None:
        """Restore a state returned by :meth:`get_state`; raise ``ValueError`` if malformed."""
        ...


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"{what}: expected a base64 string, got {type(text).__name__}")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise ValueError(f"{what}: not valid base64") from None


class PythonRandomSource:
    """Python's module-level ``random`` generator (used by torchvision transforms and most pipelines)."""

    name = "python"

    def available(self) -> bool:
        return True

    def seed(self, seed: int) -> None:
        random.seed(seed)

    def get_state(self) -> Any:
        return encode_python_random_state(random.getstate())

    def set_state(self, state: Any) -> None:
        random.setstate(decode_python_random_state(state))

    def snapshot(self) -> Any:
        return random.getstate()

    def restore(self, snapshot: Any) -> None:
        random.setstate(snapshot)


def encode_python_random_state(state: tuple[Any, ...]) -> dict[str, Any]:
    """``random.Random.getstate()`` as JSON-able data (shared by the source and registered generators)."""
    version, internal, gauss_next = state
    return {"version": version, "internal": list(internal), "gauss_next": gauss_next}


def decode_python_random_state(state: Any) -> tuple[Any, ...]:
    """Inverse of :func:`encode_python_random_state`, validating the shape first."""
    if not isinstance(state, dict) or set(state) != {"version", "internal", "gauss_next"}:
        raise ValueError("python random state: expected keys version, internal, gauss_next")
    internal = state["internal"]
    if (
        not isinstance(internal, list)
        or len(internal) != 625
        or not all(isinstance(v, int) and 0 <= v <= _MASK32 for v in internal)
    ):
        raise ValueError("python random state: 'internal' must be 625 unsigned 32-bit integers")
    gauss = state["gauss_next"]
    if gauss is not None and not isinstance(gauss, (int, float)):
        raise ValueError("python random state: 'gauss_next' must be a number or null")
    return (state["version"], tuple(internal), gauss)


def _int_to_uint32_words(value: int) -> list[int]:
    words = []
    while True:
        words.append(value & _MASK32)
        value >>= 32
        if not value:
            return words


class NumpyGlobalSource:
    """NumPy's legacy global generator (``np.random.seed`` / ``np.random.rand``).

    Seeds wider than 32 bits are passed as an array of 32-bit words
    (``init_by_array``), so all of a 64- or 128-bit derived seed is used.
    """

    name = "numpy"

    def available(self) -> bool:
        try:
            import numpy  # noqa: F401
        except ImportError:
            return False
        return True

    def seed(self, seed: int) -> None:
        import numpy as np

        if seed <= _MASK32:
            np.random.seed(seed)
        else:
            np.random.seed(_int_to_uint32_words(seed))

    def get_state(self) -> Any:
        import numpy as np

        return encode_numpy_legacy_state(np.random.get_state(legacy=False))

    def set_state(self, state: Any) -> None:
        import numpy as np

        np.random.set_state(decode_numpy_legacy_state(state))

    def snapshot(self) -> Any:
        import numpy as np

        return np.random.get_state()

    def restore(self, snapshot: Any) -> None:
        import numpy as np

        np.random.set_state(snapshot)


def encode_numpy_legacy_state(state: dict[str, Any]) -> dict[str, Any]:
    """A ``RandomState.get_state(legacy=False)`` dict as JSON-able data."""
    inner = state["state"]
    return {
        "bit_generator": state["bit_generator"],
        "key": [int(v) for v in inner["key"]],
        "pos": int(inner["pos"]),
        "has_gauss": int(state["has_gauss"]),
        "gauss": float(state["gauss"]),
    }


def decode_numpy_legacy_state(state: Any) -> dict[str, Any]:
    """Inverse of :func:`encode_numpy_legacy_state`, validating the shape first."""
    import numpy as np

    expected = {"bit_generator", "key", "pos", "has_gauss", "gauss"}
    if not isinstance(state, dict) or set(state) != expected:
        raise ValueError(f"numpy state: expected keys {sorted(expected)}")
    if state["bit_generator"] != "MT19937":
        raise ValueError(f"numpy state: unsupported bit generator {state['bit_generator']!r}")
    key = state["key"]
    if not isinstance(key, list) or len(key) != 624 or not all(
        isinstance(v, int) and 0 <= v <= _MASK32 for v in key
    ):
        raise ValueError("numpy state: 'key' must be 624 unsigned 32-bit integers")
    pos = state["pos"]
    if not isinstance(pos, int) or not 0 <= pos <= 624:
        raise ValueError("numpy state: 'pos' must be an integer in [0, 624]")
    return {
        "bit_generator": "MT19937",
        "state": {"key": np.asarray(key, dtype=np.uint32), "pos": pos},
        "has_gauss": int(state["has_gauss"]),
        "gauss": float(state["gauss"]),
    }


def encode_torch_generator_state(state: Any) -> str:
    """A ``torch.Generator.get_state()`` byte tensor as base64 text."""
    return _b64(state.numpy().tobytes())


def decode_torch_generator_state(text: Any, what: str, expected_len: int | None = None) -> Any:
    """Inverse of :func:`encode_torch_generator_state`; checks the length when it is known."""
    import torch

    raw = _unb64(text, what)
    if expected_len is not None and len(raw) != expected_len:
        raise ValueError(f"{what}: state is {len(raw)} bytes, this generator's is {expected_len}")
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).clone()


class TorchCPUSource:
    """torch's CPU default generator.

    Seeded through ``torch.default_generator.manual_seed`` rather than
    ``torch.manual_seed``: the latter also visits every accelerator (about 60x
    slower), which the separate device sources already cover. The CPU generator
    is an MT19937 that keeps only the low 32 bits of a seed, so two seeds that
    differ only above bit 31 give it the same stream.
    """

    name = "torch"

    def available(self) -> bool:
        try:
            import torch  # noqa: F401
        except ImportError:
            return False
        return True

    def seed(self, seed: int) -> None:
        import torch

        torch.default_generator.manual_seed(seed & _MASK64)

    def get_state(self) -> Any:
        import torch

        return encode_torch_generator_state(torch.default_generator.get_state())

    def set_state(self, state: Any) -> None:
        import torch

        current = torch.default_generator.get_state()
        torch.default_generator.set_state(
            decode_torch_generator_state(state, "torch state", current.numel())
        )

    def snapshot(self) -> Any:
        import torch

        return torch.default_generator.get_state()

    def restore(self, snapshot: Any) -> None:
        import torch

        torch.default_generator.set_state(snapshot)


class _TorchDeviceSource:
    """Shared logic for accelerator back-ends with one generator per device."""

    name = ""
    module_name = ""
    on_device = True

    def _module(self) -> Any:
        torch = sys.modules.get("torch")
        if torch is None:
            return None
        return getattr(torch, self.module_name, None)

    def available(self) -> bool:
        try:
            import torch  # noqa: F401
        except ImportError:
            return False
        mod = self._module()
        if mod is None:
            return False
        try:
            return bool(mod.is_available())
        except Exception:  # pragma: no cover - broken drivers report themselves here
            return False

    def device_count(self) -> int:
        mod = self._module()
        return int(mod.device_count()) if mod is not None and self.available() else 0

    def seed(self, seed: int) -> None:
        # manual_seed_all is lazy: it queues the seed until the back-end initialises,
        # so seeding never initialises CUDA (which would break fork-based workers).
        self._module().manual_seed_all(seed & _MASK64)

    def get_state(self) -> Any:
        states = self._module().get_rng_state_all()
        return [encode_torch_generator_state(s) for s in states]

    def set_state(self, state: Any) -> None:
        mod = self._module()
        if not isinstance(state, list):
            raise ValueError(f"{self.name} state: expected a list with one state per device")
        count = mod.device_count()
        if len(state) != count:
            raise ValueError(
                f"{self.name} state has {len(state)} device(s), this process sees {count}"
            )
        current = mod.get_rng_state_all()
        decoded = [
            decode_torch_generator_state(s, f"{self.name} state of device {i}", current[i].numel())
            for i, s in enumerate(state)
        ]
        mod.set_rng_state_all(decoded)


class CUDASource(_TorchDeviceSource):
    """The generator of every CUDA device (seeded lazily; capture initialises CUDA)."""

    name = "cuda"
    module_name = "cuda"


class XPUSource(_TorchDeviceSource):
    """The generator of every Intel XPU device, where torch was built with XPU support."""

    name = "xpu"
    module_name = "xpu"


class MPSSource:
    """The Apple MPS generator (a single device)."""

    name = "mps"
    on_device = True

    def available(self) -> bool:
        try:
            import torch
        except ImportError:
            return False
        return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())

    def seed(self, seed: int) -> None:
        import torch

        torch.mps.manual_seed(seed & _MASK64)

    def get_state(self) -> Any:
        import torch

        return encode_torch_generator_state(torch.mps.get_rng_state())

    def set_state(self, state: Any) -> None:
        import torch

        current = torch.mps.get_rng_state()
        torch.mps.set_rng_state(decode_torch_generator_state(state, "mps state", current.numel()))



def is_on_device(source: RandomSource) -> bool:
    """Whether ``source`` declares ``on_device = True`` (its state lives on an accelerator)."""
    return bool(getattr(source, "on_device", False))


def snapshot_functions(source: RandomSource) -> tuple[Callable[[], Any], Callable[[Any], None]]:
    """``(save, restore)`` for in-process save/restore of ``source``: native if it offers it, else JSON state."""
    snap = getattr(source, "snapshot", None)
    rest = getattr(source, "restore", None)
    if callable(snap) and callable(rest):
        return snap, rest
    return source.get_state, source.set_state


_lock = threading.RLock()
_registry: dict[str, RandomSource] = {}
_entry_points_loaded = False


def _check_source(source: Any) -> None:
    name = getattr(source, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"a random source needs a non-empty string attribute 'name'; got {source!r}"
        )
    missing = [m for m in ("available", "seed", "get_state", "set_state") if not callable(getattr(source, m, None))]
    if missing:
        raise TypeError(
            f"random source {name!r} lacks the method(s) {', '.join(missing)}; "
            "implement reprotorch.sources.RandomSource"
        )


def register_source(source: RandomSource, *, replace: bool = False) -> RandomSource:
    """Add a global generator to the registry so every reprotorch operation covers it.

    Returns ``source`` so the call can be used as a decorator on an instance.
    A second source with the same name raises ``ValueError`` unless ``replace``.
    """
    _check_source(source)
    with _lock:
        _load_entry_points()
        if source.name in _registry and not replace:
            raise ValueError(
                f"a random source named {source.name!r} is already registered; "
                "pass replace=True to swap it"
            )
        _registry[source.name] = source
    return source


def unregister_source(name: str) -> None:
    """Remove a source by name (``KeyError`` if absent)."""
    with _lock:
        _load_entry_points()
        try:
            del _registry[name]
        except KeyError:
            raise KeyError(f"no random source named {name!r}; registered: {source_names()}") from None


def _load_entry_points() -> None:
    """Discover plugins once; a broken plugin is reported, never fatal."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="reprotorch.sources"):
        try:
            obj = ep.load()
            if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "get_state")):
                obj = obj()
            _check_source(obj)
            if obj.name not in _registry:
                _registry[obj.name] = obj
        except Exception as exc:  # a plugin must not break seeding of everything else
            _log.warning("reprotorch: could not load random source plugin %r: %s", ep.name, exc)


def iter_sources(*, only_available: bool = True) -> Iterator[RandomSource]:
    """The registered sources in registration order (built-ins first)."""
    with _lock:
        _load_entry_points()
        sources = list(_registry.values())
    for s in sources:
        if not only_available or s.available():
            yield s


def get_source(name: str) -> RandomSource:
    """The registered source called ``name`` (``KeyError`` listing the names if absent)."""
    with _lock:
        _load_entry_points()
        try:
            return _registry[name]
        except KeyError:
            raise KeyError(f"no random source named {name!r}; registered: {list(_registry)}") from None


def source_names(*, only_available: bool = False) -> list[str]:
    """Names of the registered sources."""
    return [s.name for s in iter_sources(only_available=only_available)]


for _builtin in (PythonRandomSource(), NumpyGlobalSource(), TorchCPUSource(), CUDASource(), MPSSource(), XPUSource()):
    _registry[_builtin.name] = _builtin
del _builtin
