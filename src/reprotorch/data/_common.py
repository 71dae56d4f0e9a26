"""Argument checks shared by the data utilities.

They live apart so that every public entry point reports a bad seed, epoch or
count with the same wording, and so that ``seed=None`` means the same thing
everywhere: the run's seed, never a silently drawn one.
"""

from __future__ import annotations

from typing import Any

from ..seeding import SEED_ENV, current_seed, validate_seed

MAX_ROOT_SEED = 2**128 - 1
MAX_KEY = 2**64 - 1


def resolve_seed(seed: Any, *, who: str) -> int:
    """``seed`` validated, or the run's seed when ``seed`` is ``None``.

    A loader or sampler that invented a seed would give a run that cannot be
    re-created, and would silently disagree between ranks; so a missing seed is
    an error that says how to provide one. Root seeds may be up to 128 bits so a
    seed derived with ``derive_seed(..., bits=128)`` can serve as a root.
    """
    if seed is None:
        found = current_seed()
        if found is None:
            raise ValueError(
                f"{who}: seed=None means 'the run's seed', but none is set. Call "
                f"reprotorch.seed_everything(seed) first, set {SEED_ENV}, or pass seed=<int>."
            )
        return found
    return validate_seed(seed, name=f"{who}: seed", maximum=MAX_ROOT_SEED)


def check_int(value: Any, name: str, *, minimum: int = 0, maximum: int = MAX_KEY) -> int:
    """``value`` as an int in ``[minimum, maximum]``; bools and other types are a ``TypeError``."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import numpy as np

            if isinstance(value, np.integer) and not isinstance(value, np.bool_):
                value = int(value)
        except ImportError:  # pragma: no cover - numpy is a dependency
            pass
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be in [{minimum}, {maximum}], got {value}")
    return value


def check_bool(value: Any, name: str) -> bool:
    """``value`` if it is a bool; ``shuffle=1`` or ``drop_last="no"`` are refused, not coerced."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return value


def resolve_world(num_replicas: Any, rank: Any) -> tuple[int, int]:
    """``(num_replicas, rank)``; ``None`` means "from ``torch.distributed`` if initialised, else 1 and 0"."""
    if num_replicas is None or rank is None:
        from ..distributed import dist_info

        dist_rank, dist_world = dist_info()
        if num_replicas is None:
            num_replicas = dist_world
        if rank is None:
            rank = dist_rank
    num_replicas = check_int(num_replicas, "num_replicas", minimum=1, maximum=2**31 - 1)
    rank = check_int(rank, "rank", minimum=0, maximum=2**31 - 1)
    if rank >= num_replicas:
        raise ValueError(
            f"rank must be in [0, num_replicas - 1] = [0, {num_replicas - 1}], got rank={rank}"
        )
    return num_replicas, rank
