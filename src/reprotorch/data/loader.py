"""``SeededDataLoader``: a DataLoader whose batches depend on (seed, epoch, position) only, and that resumes exactly.

Position is counted in batches the training loop has *received* (counted as
the iterator yields them), not in batches workers have prefetched: after
``state_dict()`` the next batch the loop would have seen is the first one a
restored loader yields, whatever ``num_workers``, ``prefetch_factor``,
``persistent_workers`` or ``drop_last``. A restored loader skips the consumed
batches in the sampler, on indices, so nothing skipped is loaded.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from functools import partial
from itertools import islice
from typing import Any

from torch.utils.data import BatchSampler, DataLoader

from ..seeding import derive_seed
from ._common import check_bool, check_int
from .dataset import SeededDataset
from .keys import SampleKey, _rebuild
from .sampler import SeededSampler
from .workers import worker_init_fn

__all__ = ["SeededDataLoader", "build_dataloader", "STATE_FORMAT", "STATE_VERSION"]

STATE_FORMAT = "reprotorch.data_loader_state"
STATE_VERSION = 1

_RESERVED = ("sampler", "batch_sampler", "generator")


def _unpack_batch(indices: list[int], epochs: list[int], seeds: list[int]) -> list[SampleKey]:
    return [_rebuild(i, e, s) for i, e, s in zip(indices, epochs, seeds)]


class _KeyBatch(list):  # type: ignore[type-arg]
    """A batch of keys that crosses the queue to a worker as three lists of ints.

    Pickling 32 ``SampleKey`` objects one by one costs about 35 µs in the main
    process, which is the DataLoader's bottleneck with many workers; three
    int lists cost about 5 µs.
    """

    def __reduce__(self) -> tuple[Any, tuple[list[int], list[int], list[int]]]:
        return (
            _unpack_batch,
            ([int(k) for k in self], [k.epoch for k in self], [k.seed for k in self]),
        )


def _batches(keys: Iterator[SampleKey], batch_size: int, drop_last: bool) -> Iterator[list[int]]:
    while True:
        batch = _KeyBatch(islice(keys, batch_size))
        if not batch or (drop_last and len(batch) < batch_size):
            return
        yield batch


class _EagerBatchSampler(BatchSampler):
    """A BatchSampler that fixes its epoch and start position when ``iter()`` is called.

    ``BatchSampler.__iter__`` is a generator: it reads the sampler's epoch only
    when the first batch is pulled, which for ``num_workers=0`` is after the
    loader has returned its iterator. Binding everything at ``iter()`` time makes
    each loader iterator independent of later ``set_epoch`` calls.
    """

    sampler: SeededSampler

    def __init__(self, sampler: SeededSampler, batch_size: int, drop_last: bool) -> None:
        super().__init__(sampler, batch_size, drop_last)
        self.start_batch = 0

    def __iter__(self) -> Iterator[list[int]]:  # lists of SampleKey, which are ints
        # start_batch is not reset here: torch's multiprocessing iterator calls iter() on
        # the batch sampler twice while it is being created. The loader sets it every time.
        keys = self.sampler.iter_from(self.sampler.epoch, self.start_batch * self.batch_size)
        return _batches(keys, self.batch_size, self.drop_last)


class _CountingIterator:
    """Wraps the DataLoader's iterator and reports each batch the loop receives to the loader."""

    def __init__(self, loader: SeededDataLoader, inner: Any, epoch: int, start: int, total: int) -> None:
        self._loader = loader
        self._inner = inner
        self.epoch = epoch
        self.received = start
        self._total = total
        self._done = False

    def __iter__(self) -> _CountingIterator:
        return self

    def __len__(self) -> int:
        return self._total - self.received

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        try:
            batch = next(self._inner)
        except StopIteration:
            self._done = True
            self._loader._finished(self)
            raise
        self.received += 1
        self._loader._received(self)
        return batch


class SeededDataLoader(DataLoader):
    """A ``DataLoader`` with a :class:`SeededSampler`, a :class:`SeededDataset` and ``state_dict()``.

    ``iter(loader)`` runs epoch ``loader.epoch`` (0 at first); an iteration that
    runs to completion advances it by one. ``set_epoch(e)`` selects the epoch.
    ``seed=None`` takes the run's seed and raises if there is none. Everything
    else (``num_workers``, ``collate_fn``, ``persistent_workers``, ``drop_last``,
    ...) is passed to ``DataLoader``. A dataset that is not yet a
    :class:`SeededDataset` is wrapped with the default sources.

    The iterator's base seed (which seeds worker processes) comes from a
    generator seeded with ``derive_seed(seed, "loader", epoch)``, so creating an
    iterator neither depends on nor consumes the global torch generator, and
    workers run :func:`worker_init_fn` unless you pass your own.
    """

    sampler: SeededSampler

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        *,
        seed: int | None = None,
        shuffle: bool = True,
        num_replicas: int | None = None,
        rank: int | None = None,
        **dataloader_kwargs: Any,
    ) -> None:
        reserved = [k for k in _RESERVED if k in dataloader_kwargs]
        if reserved:
            raise TypeError(
                f"SeededDataLoader chooses its own {', '.join(reserved)} (that is how its order and "
                "worker seeds stay reproducible); remove the argument, or use a plain DataLoader "
                "with reprotorch.data.loader_kwargs(seed)"
            )
        batch_size = check_int(batch_size, "batch_size", minimum=1, maximum=2**31 - 1)
        drop_last = check_bool(dataloader_kwargs.pop("drop_last", False), "drop_last")
        if not isinstance(dataset, SeededDataset):
            dataset = SeededDataset(dataset)
        sampler = SeededSampler(dataset, seed=seed, shuffle=shuffle, num_replicas=num_replicas, rank=rank)
        import torch

        generator = torch.Generator()  # noqa: RPT004 - seeded per epoch in __iter__ (derive_seed(seed, "loader", epoch))
        if dataloader_kwargs.get("worker_init_fn") is None:
            dataloader_kwargs["worker_init_fn"] = partial(worker_init_fn, rank=sampler.rank, seed=sampler.seed)
        super().__init__(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            drop_last=drop_last,
            generator=generator,
            **dataloader_kwargs,
        )
        # DataLoader forbids reassigning batch_sampler after __init__ (to stop users from
        # changing it under a live iterator); this happens before any iterator exists.
        object.__setattr__(self, "batch_sampler", _EagerBatchSampler(sampler, batch_size, drop_last))
        self.seed: int = sampler.seed
        self._position = (0, 0)  # (epoch, batches received) of the next unconsumed batch
        self._pending: tuple[int, int] | None = None  # a loaded position not yet resumed from
        # A weak reference: the iterator holds the loader, and a cycle would keep worker
        # processes alive until the cyclic garbage collector happens to run.
        self._active: weakref.ref[_CountingIterator] | None = None

    # ------------------------------------------------------------------ epochs

    @property
    def epoch(self) -> int:
        """The epoch the next ``iter(loader)`` runs (the sampler's epoch)."""
        return self.sampler.epoch

    def set_epoch(self, epoch: int) -> None:
        """Run ``epoch`` next, from its first batch (or from a loaded position, if it is that epoch's)."""
        epoch = check_int(epoch, "epoch")
        self.sampler.set_epoch(epoch)
        if self._pending is not None and self._pending[0] != epoch:
            self._pending = None
        # Also for the epoch already under way: the next iter() starts it from batch 0, so a
        # state saved now must say so (not the position of an iterator abandoned mid-epoch).
        self._position = self._pending if self._pending is not None else (epoch, 0)

    # ------------------------------------------------------------------ iteration

    def __iter__(self) -> _CountingIterator:  # type: ignore[override]
        epoch = self.sampler.epoch
        start = 0
        if self._pending is not None and self._pending[0] == epoch:
            start = self._pending[1]
        self._pending = None
        self.batch_sampler.start_batch = start  # type: ignore[union-attr]
        # The base seed workers are seeded from: a function of (seed, epoch) only.
        self.generator.manual_seed(derive_seed(self.seed, "loader", epoch, bits=64))
        try:
            inner = super().__iter__()
        finally:
            self.batch_sampler.start_batch = 0  # type: ignore[union-attr]
        it = _CountingIterator(self, inner, epoch, start, len(self))
        self._active = weakref.ref(it)
        self._position = (epoch, start)
        return it

    def _is_active(self, it: _CountingIterator) -> bool:
        return self._active is not None and self._active() is it

    def _received(self, it: _CountingIterator) -> None:
        if self._is_active(it):
            self._position = (it.epoch, it.received)

    def _finished(self, it: _CountingIterator) -> None:
        if not self._is_active(it):
            return
        self._active = None
        self._position = (it.epoch + 1, 0)
        if self.sampler.epoch == it.epoch:
            self.sampler.set_epoch(it.epoch + 1)

    # ------------------------------------------------------------------ state

    def _config(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "dataset_length": self.sampler.dataset_length,
            "batch_size": self.batch_sampler.batch_size,  # type: ignore[union-attr]
            "num_replicas": self.sampler.num_replicas,
            "shuffle": self.sampler.shuffle,
            "drop_last": self.batch_sampler.drop_last,  # type: ignore[union-attr]
        }

    def state_dict(self) -> dict[str, Any]:
        """The loader's position as plain data (fits ``torch.save`` / ``torch.load(weights_only=True)`` and JSON).

        ``epoch`` and ``batches`` locate the next batch the training loop has not
        received; the configuration fields let :meth:`load_state_dict` refuse a
        state from another setup.
        """
        epoch, batches = self._position
        if self._pending is not None:
            epoch, batches = self._pending
        elif batches == 0:
            epoch = self.sampler.epoch  # follows set_epoch calls made on the sampler directly
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "epoch": epoch,
            "batches": batches,
            "batches_per_epoch": len(self),
            "rank": self.sampler.rank,
            **self._config(),
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Continue from a :meth:`state_dict`: the next ``iter(loader)`` yields the next unconsumed batch.

        The whole state is checked before anything changes. ``TypeError`` for
        something that is not a mapping; ``ValueError`` for a foreign or corrupt
        state, or one saved with another seed, dataset length, batch size, world
        size, ``shuffle`` or ``drop_last`` (the message names which).
        """
        epoch, batches = self._validate_state(state_dict)
        self.sampler.set_epoch(epoch)
        self._pending = (epoch, batches)
        self._position = (epoch, batches)

    def _validate_state(self, state: Any) -> tuple[int, int]:
        if not isinstance(state, Mapping):
            raise TypeError(
                f"load_state_dict expects the dict returned by SeededDataLoader.state_dict(), "
                f"got {type(state).__name__}"
            )
        if state.get("format") != STATE_FORMAT:
            raise ValueError(
                f"not a SeededDataLoader state: expected format {STATE_FORMAT!r}, got "
                f"{state.get('format')!r}; pass the dict saved from loader.state_dict()"
            )
        if state.get("version") != STATE_VERSION:
            raise ValueError(
                f"SeededDataLoader state version {state.get('version')!r} is not supported "
                f"(this reprotorch reads version {STATE_VERSION})"
            )
        expected = self._config()
        missing = [k for k in ("epoch", "batches", *expected) if k not in state]
        if missing:
            raise ValueError(f"SeededDataLoader state is corrupt: missing {', '.join(missing)}")
        for key in ("epoch", "batches", "seed", "dataset_length", "batch_size", "num_replicas"):
            value = state[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"SeededDataLoader state is corrupt: {key!r} must be a non-negative int, got {value!r}"
                )
        for key in ("shuffle", "drop_last"):
            if not isinstance(state[key], bool):
                raise ValueError(f"SeededDataLoader state is corrupt: {key!r} must be a bool, got {state[key]!r}")
        labels = {
            "seed": "seed",
            "dataset_length": "dataset length",
            "batch_size": "batch size",
            "num_replicas": "world size (num_replicas)",
            "shuffle": "shuffle",
            "drop_last": "drop_last",
        }
        differ = [
            f"{labels[k]} was {state[k]!r} when saved, is {v!r} here"
            for k, v in expected.items()
            if state[k] != v
        ]
        if differ:
            raise ValueError(
                "this SeededDataLoader state comes from another configuration: " + "; ".join(differ)
                + ". Build the loader with the saved configuration to resume."
            )
        epoch = check_int(state["epoch"], "state['epoch']")
        batches = state["batches"]
        if batches > len(self):
            raise ValueError(
                f"SeededDataLoader state is corrupt: position {batches} is past the end of an epoch "
                f"of {len(self)} batches"
            )
        return epoch, batches


def build_dataloader(
    dataset: Any,
    samples_per_gpu: int,
    workers_per_gpu: int,
    num_gpus: int = 1,
    dist: bool = False,
    shuffle: bool = True,
    seed: int | None = None,
    **kwargs: Any,
) -> SeededDataLoader:
    """MMDetection's ``build_dataloader`` arguments, building a :class:`SeededDataLoader`.

    With ``dist=True`` each process loads ``samples_per_gpu`` samples with
    ``workers_per_gpu`` workers from its shard (rank and world size from
    ``torch.distributed``); otherwise one process loads
    ``num_gpus * samples_per_gpu`` with ``num_gpus * workers_per_gpu`` workers.
    ``seed`` is ``cfg.seed``; ``None`` takes the run's seed (and raises if there is
    none, where MMDetection would silently leave workers unseeded). Other keyword
    arguments (``collate_fn``, ``persistent_workers``, ...) go to the DataLoader.
    """
    samples_per_gpu = check_int(samples_per_gpu, "samples_per_gpu", minimum=1, maximum=2**31 - 1)
    workers_per_gpu = check_int(workers_per_gpu, "workers_per_gpu", maximum=2**15)
    num_gpus = check_int(num_gpus, "num_gpus", minimum=1, maximum=2**15)
    dist = check_bool(dist, "dist")
    if dist:
        batch_size, num_workers = samples_per_gpu, workers_per_gpu
        num_replicas: int | None = None
        rank: int | None = None
    else:
        batch_size, num_workers = num_gpus * samples_per_gpu, num_gpus * workers_per_gpu
        num_replicas, rank = 1, 0
    return SeededDataLoader(
        dataset,
        batch_size,
        seed=seed,
        shuffle=shuffle,
        num_replicas=num_replicas,
        rank=rank,
        num_workers=num_workers,
        **kwargs,
    )
