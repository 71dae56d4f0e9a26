"""Seeds that every rank of a ``torch.distributed`` job agrees on.

A rank that silently holds a different seed trains a different model shard,
draws a different augmentation order and breaks reproducibility without any
error. These helpers use the caller's process group and ``torch.distributed``
collectives; with no process group initialised they act on the single process.
"""

from __future__ import annotations

import secrets
from typing import Any

from .errors import SeedMismatchError
from .seeding import _record_seed, validate_seed
from .sources import get_source

__all__ = ["init_random_seed", "set_random_seed", "sync_seed", "dist_info"]


def _dist() -> Any:
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def dist_info(group: Any = None) -> tuple[int, int]:
    """``(rank, world_size)`` within ``group``; ``(0, 1)`` without ``torch.distributed``."""
    dist = _dist()
    if dist is None:
        return 0, 1
    return dist.get_rank(group), dist.get_world_size(group)


def _collective_device(dist: Any, group: Any, requested: str = "cuda") -> Any:
    """NCCL needs CUDA tensors; gloo and the rest take CPU ones. Fall back to the CPU without CUDA."""
    import torch

    backend = dist.get_backend(group)
    if str(backend) == "nccl" and requested.startswith("cuda") and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def init_random_seed(seed: int | None = None, device: str = "cuda") -> int:
    """MMDetection's ``init_random_seed``: ``seed`` unchanged if given, else one random seed for all ranks.

    The random seed comes from OS entropy (in ``[0, 2**31)``, like MMDetection's)
    on rank 0 and is broadcast so every rank returns the same value. ``device``
    is used for the broadcast when the backend needs it (NCCL); otherwise, and
    without CUDA, the CPU is used.
    """
    if seed is not None:
        return validate_seed(seed)
    value = secrets.randbelow(2**31)
    dist = _dist()
    if dist is None or dist.get_world_size() == 1:
        return value
    import torch

    dev = _collective_device(dist, None, device)
    t = torch.tensor([value if dist.get_rank() == 0 else 0], dtype=torch.int64, device=dev)
    dist.broadcast(t, src=0)
    return int(t.item())


def set_random_seed(seed: int, deterministic: bool = False) -> int:
    """MMDetection's ``set_random_seed``: the same integer into python, NumPy, torch and CUDA.

    Kept for people porting MMDetection code; it shares MMDetection's weakness
    that NumPy and torch then produce identical MT19937 streams. Prefer
    :func:`reprotorch.seed_everything`. ``deterministic=True`` applies
    :func:`reprotorch.set_deterministic`.
    """
    value = validate_seed(seed)
    if not isinstance(deterministic, bool):
        raise TypeError(f"deterministic must be a bool, got {deterministic!r}")
    for name in ("python", "numpy", "torch", "cuda"):
        source = get_source(name)
        if source.available():
            source.seed(value)
    _record_seed(value)
    if deterministic:
        from .determinism import set_deterministic

        set_deterministic(True)
    return value


def sync_seed(seed: int | None = None, *, group: Any = None) -> int:
    """Like :func:`init_random_seed`, then verify with an all-gather that every rank holds the same seed.

    A mismatch (or an invalid seed on any rank) raises :class:`~reprotorch.SeedMismatchError`
    on every rank, naming each rank's value, instead of letting them train apart or
    hang in a later collective.

    Every rank runs exactly one collective, an all-gather of ``(its seed or "none",
    a fresh candidate)``, whatever it was passed: with a broadcast only on the ranks
    that got ``seed=None``, a job where some ranks pass a seed and others ``None``
    would have ranks waiting in different collectives until the process-group
    timeout. When every rank passes ``None``, the group's first rank's candidate
    is the seed.
    """
    dist = _dist()
    invalid: Exception | None = None
    if seed is None:
        value: int = _NONE
    else:
        try:
            value = validate_seed(seed)
        except (TypeError, ValueError) as exc:
            if dist is None:
                raise
            invalid, value = exc, _INVALID
    if dist is None or dist.get_world_size(group) == 1:
        return value if value >= 0 else secrets.randbelow(2**31)

    import torch

    dev = _collective_device(dist, group)
    mine = torch.tensor([value, secrets.randbelow(2**31)], dtype=torch.int64, device=dev)
    gathered = [torch.zeros_like(mine) for _ in range(dist.get_world_size(group))]
    dist.all_gather(gathered, mine, group=group)
    pairs = [(int(g[0].item()), int(g[1].item())) for g in gathered]
    values = [v for v, _ in pairs]
    if len(set(values)) != 1 or _INVALID in values:
        shown = ", ".join(f"rank {r}: {_shown(v)}" for r, v in enumerate(values))
        detail = f" (this rank's seed was rejected: {invalid})" if invalid else ""
        raise SeedMismatchError(
            f"ranks hold different seeds ({shown}){detail}. Pass the same seed on every rank, "
            "or seed=None on every rank to have the first rank choose one for all."
        )
    return pairs[0][1] if values[0] == _NONE else values[0]


# Markers for the all-gather in sync_seed (valid seeds are >= 0).
_NONE = -1
_INVALID = -2


def _shown(value: int) -> str:
    return {_NONE: "None", _INVALID: "invalid"}.get(value, str(value))
