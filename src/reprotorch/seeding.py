"""Seed validation, seed derivation and one-call seeding.

Seeding is deriving: every generator, worker, rank, epoch and sample gets a seed
that is a pure function of one root seed and a path of keys, computed with
:class:`numpy.random.SeedSequence`. That replaces the ``seed + rank`` arithmetic
of most training code, under which (seed 0, worker 1) and (seed 1, worker 0)
are the same stream.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from typing import Any, Literal

from .sources import RandomSource, is_on_device, iter_sources, snapshot_functions

__all__ = ["derive_seed", "seed_everything", "validate_seed", "current_seed", "SEED_ENV"]

_log = logging.getLogger("reprotorch")

SEED_ENV = "REPROTORCH_SEED"
MAX_SEED = 2**32 - 1
_VALID_BITS = (32, 64, 128)
_MASK32 = (1 << 32) - 1

# The seed most recently applied in this process by seed_everything/set_random_seed.
_current_seed: int | None = None


def validate_seed(seed: Any, *, name: str = "seed", maximum: int = MAX_SEED) -> int:
    """Return ``seed`` as a Python int or raise; never changes any state.

    Accepts Python ints and NumPy integer scalars in ``[0, maximum]``. ``bool`` is
    refused although it is an ``int``: ``seed_everything(True)`` is a bug, not a seed.
    """
    if isinstance(seed, bool):
        raise TypeError(f"{name} must be an integer in [0, {maximum}], got the bool {seed!r}")
    if not isinstance(seed, int):
        try:
            import numpy as np
        except ImportError:  # pragma: no cover - numpy is a dependency
            np = None  # type: ignore[assignment]
        if np is not None and isinstance(seed, np.integer) and not isinstance(seed, np.bool_):
            seed = int(seed)
        else:
            raise TypeError(
                f"{name} must be an integer in [0, {maximum}], got {type(seed).__name__} {seed!r}"
            )
    if not 0 <= seed <= maximum:
        raise ValueError(f"{name} must be in [0, {maximum}], got {seed}")
    return seed


def _key_words(key: Any, position: int) -> tuple[int, int, int]:
    """Encode one key as three 32-bit words: a type tag and 64 bits of value.

    A fixed width per key keeps the encoding injective: no two different key
    paths produce the same word sequence (strings aside from 64-bit hash meetings).
    """
    if isinstance(key, bool):
        raise TypeError(f"key {position} must be an int or str, got the bool {key!r}")
    if isinstance(key, str):
        digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8, person=b"reprotorch-key").digest()
        value = int.from_bytes(digest, "little")
        return (1, value & _MASK32, value >> 32)
    if not isinstance(key, int):
        try:
            import numpy as np

            if isinstance(key, np.integer):
                key = int(key)
        except ImportError:  # pragma: no cover
            pass
    if not isinstance(key, int):
        raise TypeError(f"key {position} must be an int or str, got {type(key).__name__} {key!r}")
    if not 0 <= key < 2**64:
        raise ValueError(f"key {position} must be in [0, 2**64), got {key}")
    return (0, key & _MASK32, key >> 32)


def derive_seed(seed: int, *keys: int | str, bits: int = 32) -> int:
    """A child seed for the path ``keys`` under ``seed``, from ``numpy.random.SeedSequence``.

    ``derive_seed(seed, "worker", rank, worker_id)`` is what ``seed + rank * n +
    worker_id`` tries to be, without its collisions. ``seed`` may be up to 128
    bits (so derived seeds can be derived from again). String keys are hashed
    with BLAKE2b, never Python's salted ``hash()``.

    ``bits=32`` (default) gives a value every seeding function accepts (NumPy's
    legacy ``seed`` stops at 2**32 - 1) but, like any 32-bit value, meets another
    path's by chance once about 2**16 paths are in play; 64 or 128 bits make
    chance meetings negligible.
    """
    root = validate_seed(seed, maximum=2**128 - 1)
    if bits not in _VALID_BITS:
        raise ValueError(f"bits must be one of {_VALID_BITS}, got {bits!r}")
    words: list[int] = []
    for i, key in enumerate(keys):
        words.extend(_key_words(key, i))
    import numpy as np

    state = np.random.SeedSequence(root, spawn_key=words).generate_state(bits // 32, np.uint32)
    out = 0
    for i, w in enumerate(state.tolist()):
        out |= int(w) << (32 * i)
    return out


def _seed_from_env() -> int | None:
    raw = os.environ.get(SEED_ENV)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw.strip(), 10)
    except ValueError:
        raise ValueError(
            f"environment variable {SEED_ENV}={raw!r} is not an integer; "
            f"set it to a seed in [0, {MAX_SEED}] or unset it"
        ) from None
    return validate_seed(value, name=f"environment variable {SEED_ENV}")


def current_seed() -> int | None:
    """The root seed applied in this process (or inherited through ``REPROTORCH_SEED``), else ``None``.

    Used by the data utilities so that ``seed=None`` means "the run's seed", not "some seed".
    """
    if _current_seed is not None:
        return _current_seed
    return _seed_from_env()


def _record_seed(seed: int) -> None:
    global _current_seed
    _current_seed = seed
    os.environ[SEED_ENV] = str(seed)


def _seed_all(plan: list[tuple[RandomSource, int]]) -> None:
    """Seed every source of ``plan``, or none: a source that raises undoes the ones seeded before it.

    A valid root seed can still fail in a plugin (say, a library whose ``seed``
    refuses more than 32 bits); leaving python, NumPy and torch re-seeded behind
    that error would be the half-seeded state validation exists to prevent. The
    accelerator sources go last and are not read back: reading a CUDA state
    initialises CUDA, which seeding must not do, and their lazy seeding does
    not fail for a valid seed.
    """
    eager = [(s, v) for s, v in plan if not is_on_device(s)]
    lazy = [(s, v) for s, v in plan if is_on_device(s)]
    undo: list[tuple[Any, Any]] = []
    try:
        for source, value in eager:
            save, restore = snapshot_functions(source)
            before = save()
            source.seed(value)
            undo.append((restore, before))
    except Exception:
        for restore, before in reversed(undo):
            restore(before)
        raise
    for source, value in lazy:
        source.seed(value)


def seed_everything(
    seed: int | None = None,
    *,
    deterministic: bool | Literal["warn"] = False,
    independent_streams: bool = True,
) -> int:
    """Seed every registered random source from one root seed and return that seed.

    With ``independent_streams=True`` each source gets ``derive_seed(seed, "source",
    name, bits=64)``, so NumPy and torch never run the same MT19937 stream (as they
    do after ``np.random.seed(s); torch.manual_seed(s)``). ``False`` seeds every source
    with ``seed`` itself, exactly like the classic three calls.

    ``seed=None`` takes ``REPROTORCH_SEED`` from the environment, or else draws one
    from OS entropy and logs it at WARNING level. The seed is exported as
    ``REPROTORCH_SEED`` so spawned ranks and workers inherit it. Everything is
    validated before any generator changes. ``deterministic`` is passed to
    :func:`reprotorch.set_deterministic` unless it is ``False``. A source whose
    ``seed`` raises (a plugin) leaves every generator as it was.
    """
    if deterministic not in (True, False, "warn"):
        raise ValueError(f"deterministic must be True, False or 'warn', got {deterministic!r}")
    if not isinstance(independent_streams, bool):
        raise TypeError(f"independent_streams must be a bool, got {independent_streams!r}")
    if seed is None:
        root = _seed_from_env()
        if root is None:
            root = secrets.randbits(32)
            _log.warning(
                "reprotorch: no seed given and %s is unset; drew seed %d from OS entropy. "
                "Pass seed=%d to re-create this run.",
                SEED_ENV,
                root,
                root,
            )
    else:
        root = validate_seed(seed)

    _seed_all(
        [
            (source, derive_seed(root, "source", source.name, bits=64) if independent_streams else root)
            for source in iter_sources()
        ]
    )
    _record_seed(root)
    if deterministic is not False:
        from .determinism import set_deterministic

        set_deterministic(deterministic)
    return root
