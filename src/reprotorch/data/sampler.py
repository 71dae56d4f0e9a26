"""A drop-in for ``RandomSampler`` / ``DistributedSampler`` whose order and keys depend on (seed, epoch) only.

Why not ``DistributedSampler``: it seeds ``seed + epoch``, so seed S at epoch 1
replays seed S+1 at epoch 0, and its permutation comes from ``torch.randperm``,
whose algorithm has changed between torch releases. Here the epoch's global
order is a function of ``derive_seed(seed, "order", epoch)`` alone: PCG64 raw
64-bit draws (a stream NumPy guarantees stable across releases) ranked by a
stable sort. Every world size sees the same global order; each rank takes a
strided shard of it, padded like ``DistributedSampler``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any

from torch.utils.data import Sampler

from ..seeding import derive_seed
from ._common import check_bool, check_int, resolve_seed, resolve_world
from .keys import SampleKey, _rebuild, epoch_keys

__all__ = ["SeededSampler", "epoch_order"]

_M64 = (1 << 64) - 1
_C1 = 0xBF58476D1CE4E5B9
_C2 = 0x94D049BB133111EB


def epoch_order(seed: int, epoch: int, length: int, *, shuffle: bool = True) -> Any:
    """The global order of ``length`` indices in ``epoch`` (a NumPy int64 array).

    A uniformly random permutation: 64-bit PCG64 draws ranked with a stable sort
    (ties, about one in 2**64 / length**2, are broken by position, so the result is
    still deterministic).
    """
    import numpy as np

    if not shuffle:
        return np.arange(length, dtype=np.int64)
    bit_gen = np.random.PCG64(derive_seed(seed, "order", epoch, bits=128))
    return np.argsort(bit_gen.random_raw(length), kind="stable").astype(np.int64, copy=False)


def _keys(indices: list[int], epoch: int, k1: int, k2: int) -> Iterator[SampleKey]:
    # The arguments are bound when the generator is created, so later calls to
    # set_epoch cannot change an iteration already under way. mix64 is inlined: this
    # loop runs once per sample.
    for i in indices:
        z = i ^ k1
        z = ((z ^ (z >> 30)) * _C1) & _M64
        z = ((z ^ (z >> 27)) * _C2) & _M64
        z = (z ^ (z >> 31)) ^ k2
        z = ((z ^ (z >> 30)) * _C1) & _M64
        z = ((z ^ (z >> 27)) * _C2) & _M64
        yield _rebuild(i, epoch, z ^ (z >> 31))


class SeededSampler(Sampler[SampleKey]):
    """Yields this rank's :class:`SampleKey` s for the current epoch; ``set_epoch`` moves on.

    ``seed=None`` takes the run's seed (``seed_everything`` / ``REPROTORCH_SEED``)
    and raises ``ValueError`` if there is none. ``num_replicas`` / ``rank`` default
    to ``torch.distributed`` when it is initialised, else 1 and 0. Without
    ``drop_last`` the order is padded by repeating its beginning until it divides
    evenly (padded samples keep their own key, so they get the same augmentation
    as their first occurrence); with ``drop_last`` the tail is dropped instead.
    """

    def __init__(
        self,
        data_source: Sized,
        *,
        seed: int | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        try:
            length = len(data_source)
        except TypeError:
            raise TypeError(
                f"SeededSampler needs a map-style dataset with __len__, got {type(data_source).__name__}"
            ) from None
        if length == 0:
            raise ValueError("SeededSampler: the dataset is empty; there is nothing to sample")
        self.seed = resolve_seed(seed, who="SeededSampler")
        self.shuffle = check_bool(shuffle, "shuffle")
        self.drop_last = check_bool(drop_last, "drop_last")
        self.num_replicas, self.rank = resolve_world(num_replicas, rank)
        if drop_last and length < self.num_replicas:
            raise ValueError(
                f"SeededSampler: {length} samples cannot give each of {self.num_replicas} replicas "
                "one sample with drop_last=True; use drop_last=False (pads) or fewer replicas"
            )
        self.dataset_length = length
        if drop_last:
            self.num_samples = length // self.num_replicas
        else:
            self.num_samples = -(-length // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order and keys the next iteration yields."""
        self.epoch = check_int(epoch, "epoch")

    def shard(self, epoch: int | None = None) -> Any:
        """This rank's indices for ``epoch`` (default: the current one), as a NumPy array."""
        import numpy as np

        epoch = self.epoch if epoch is None else check_int(epoch, "epoch")
        order = epoch_order(self.seed, epoch, self.dataset_length, shuffle=self.shuffle)
        # np.resize repeats the order cyclically: DistributedSampler's padding.
        order = np.resize(order, self.total_size) if not self.drop_last else order[: self.total_size]
        return order[self.rank : self.total_size : self.num_replicas]

    def iter_from(self, epoch: int, start: int = 0) -> Iterator[SampleKey]:
        """The keys of ``epoch`` from position ``start`` of this rank's shard; computed eagerly.

        Skipping is done here, on indices, so a resumed loader loads nothing it skips.
        """
        epoch = check_int(epoch, "epoch")
        start = check_int(start, "start", maximum=self.num_samples)
        k1, k2 = epoch_keys(self.seed, epoch)
        return _keys(self.shard(epoch)[start:].tolist(), epoch, k1, k2)

    def __iter__(self) -> Iterator[SampleKey]:
        return self.iter_from(self.epoch)

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (
            f"SeededSampler(length={self.dataset_length}, seed={self.seed}, epoch={self.epoch}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"num_replicas={self.num_replicas}, rank={self.rank})"
        )
