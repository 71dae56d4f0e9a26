"""Worker seeding for DataLoaders that reprotorch does not build.

MMDetection seeds each worker with ``num_workers * rank + worker_id + seed``:
(seed 0, rank 1) and (seed 2, rank 0) with two workers are the same stream,
and so are (seed 0, worker 1) and (seed 1, worker 0). Here every worker's seed
is ``derive_seed(seed, "worker", rank, worker_id, base_seed)``, where
``base_seed`` is the seed the DataLoader drew for this iterator. Drawing that
base seed from a seeded ``torch.Generator`` (``loader_kwargs``) makes it
reproducible and different for every epoch's iterator.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ..seeding import derive_seed
from ..sources import get_source
from ._common import check_int, resolve_seed

__all__ = ["worker_init_fn", "loader_kwargs", "WORKER_SOURCES"]

WORKER_SOURCES = ("python", "numpy", "torch")
_M64 = (1 << 64) - 1


def worker_init_fn(worker_id: int, num_workers: int | None = None, rank: int = 0, seed: int | None = None) -> None:
    """Seed python, NumPy and torch in a DataLoader worker; MMDetection's signature, collision-free seeds.

    Use ``functools.partial(worker_init_fn, num_workers=n, rank=rank, seed=seed)``
    where MMDetection's function was used, or :func:`loader_kwargs`. ``num_workers``
    is accepted for that signature and not needed. ``seed=None`` takes the run's
    seed (``seed_everything`` / ``REPROTORCH_SEED``) and raises if there is none.
    Each source gets its own seed derived from the worker's, so the three
    generators never run the same stream.
    """
    from torch.utils.data import get_worker_info

    worker_id = check_int(worker_id, "worker_id")
    if num_workers is not None:
        check_int(num_workers, "num_workers", minimum=1)
    rank = check_int(rank, "rank")
    root = resolve_seed(seed, who="worker_init_fn")
    info = get_worker_info()
    if info is None:
        raise RuntimeError(
            "worker_init_fn runs inside DataLoader worker processes; pass it as "
            "DataLoader(..., worker_init_fn=...) instead of calling it directly"
        )
    base_seed = (int(info.seed) - int(info.id)) & _M64
    worker_seed = derive_seed(root, "worker", rank, worker_id, base_seed, bits=128)
    for name in WORKER_SOURCES:
        source = get_source(name)
        if source.available():
            source.seed(derive_seed(worker_seed, "source", name, bits=64))


def loader_kwargs(seed: int | None = None, *, rank: int = 0) -> dict[str, Any]:
    """``generator`` and ``worker_init_fn`` for your own ``DataLoader(**loader_kwargs(seed))``.

    The generator (seeded from ``derive_seed(seed, "loader")``) supplies each
    iterator's base seed, and ``RandomSampler``'s order when ``shuffle=True``, so
    neither depends on, nor consumes, the global torch generator. Pass ``rank``
    under ``torch.distributed`` so ranks' workers get different streams.
    """
    import torch

    root = resolve_seed(seed, who="loader_kwargs")
    rank = check_int(rank, "rank")
    generator = torch.Generator()
    generator.manual_seed(derive_seed(root, "loader", bits=64))
    return {"generator": generator, "worker_init_fn": partial(worker_init_fn, rank=rank, seed=root)}
