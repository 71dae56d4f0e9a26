"""Cheap fingerprints of every global generator's state, taken at each step start.

``RandomSource.get_state()`` returns JSON-able data -- for Python's and NumPy's
Mersenne Twisters that is a list of 624 integers, far too slow to build and hash
at every step of a traced run. For the built-in sources this module hashes the raw
state bytes instead (a few microseconds each). Plugin sources are hashed through
their ``get_state()``.

Nothing here initialises a device or imports a library: xxhash is imported on
first use (through :mod:`reprotorch.fingerprint`, so that ``import reprotorch``
-- which imports this module -- works where xxhash is missing), NumPy's generator is
read only once NumPy is imported, an accelerator's only once its back-end is
initialised (``torch.cuda.is_initialized()``), because capturing CUDA RNG state
would otherwise initialise CUDA and break fork-based DataLoader workers.
"""

from __future__ import annotations

import array
import random
import struct
import sys
from collections.abc import Callable

from ..fingerprint import ALGORITHM, _new_hasher, fingerprint
from ..sources import (
    CUDASource,
    MPSSource,
    NumpyGlobalSource,
    PythonRandomSource,
    TorchCPUSource,
    XPUSource,
    iter_sources,
)

__all__ = ["rng_fingerprints"]


def _hex(*parts: bytes) -> str:
    h = _new_hasher()
    for part in parts:
        h.update(part)
    return f"{ALGORITHM}:{h.hexdigest()}"


def _python() -> str | None:
    version, internal, gauss_next = random.getstate()
    words = array.array("I", internal)  # 625 unsigned 32-bit words
    if sys.byteorder == "big":
        words.byteswap()
    return _hex(b"python", struct.pack("<q", version), words.tobytes(), repr(gauss_next).encode())


def _numpy() -> str | None:
    np = sys.modules.get("numpy")
    if np is None:  # not imported: nothing can have drawn from it
        return None
    name, key, pos, has_gauss, gauss = np.random.get_state()
    return _hex(
        name.encode(), key.astype("<u4").tobytes(), struct.pack("<qqd", pos, has_gauss, gauss)
    )


def _torch() -> str | None:
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    return _hex(b"torch", torch.default_generator.get_state().numpy().tobytes())


def _device(module_name: str) -> Callable[[], str | None]:
    def read() -> str | None:
        torch = sys.modules.get("torch")
        mod = getattr(torch, module_name, None) if torch is not None else None
        if mod is None:
            return None
        is_initialized = getattr(mod, "is_initialized", None)
        if is_initialized is None or not is_initialized():
            return None  # reading the state would initialise the back-end
        states = mod.get_rng_state_all()
        return _hex(module_name.encode(), *(s.numpy().tobytes() for s in states))

    return read


def _mps() -> str | None:
    torch = sys.modules.get("torch")
    if torch is None or not getattr(torch.backends, "mps", None) or not torch.backends.mps.is_available():
        return None
    return _hex(b"mps", torch.mps.get_rng_state().numpy().tobytes())


_FAST: dict[type, Callable[[], str | None]] = {
    PythonRandomSource: _python,
    NumpyGlobalSource: _numpy,
    TorchCPUSource: _torch,
    CUDASource: _device("cuda"),
    XPUSource: _device("xpu"),
    MPSSource: _mps,
}


def rng_fingerprints() -> dict[str, str]:
    """``{source name: fingerprint of its current state}`` for every registered source in use.

    Sources whose library is not imported or whose device is not initialised are
    left out. A plugin source that fails to report its state is left out too:
    tracing must never break the run it observes.
    """
    out: dict[str, str] = {}
    for source in iter_sources(only_available=False):
        fast = _FAST.get(type(source))
        try:
            if fast is not None:
                fp = fast()
            elif source.available():
                fp = fingerprint(source.get_state())
            else:
                fp = None
        except Exception:  # noqa: BLE001 - a broken plugin must not break the traced run
            fp = None
        if fp is not None:
            out[source.name] = fp
    return out
