"""Cost of reprotorch.data: per-sample overhead of SeededDataset, and SeededDataLoader epoch time.

Target (issue 3): at most 25 µs of overhead per sample (median), for
``num_workers`` 0 and 2. Everything compared is measured in the same run,
alternating round after round, and reported as medians:

* per-sample overhead of ``SeededDataset`` over the bare dataset
  - in the main process (``num_workers=0``), one ``__getitem__`` at a time (the
    caller's generators saved and restored around every sample) and batched via
    ``__getitems__`` (what the DataLoader calls: saved/restored once per batch);
  - inside a DataLoader worker (``num_workers=2``): the two loops run in the
    worker processes themselves, where no save/restore is needed;
* the sampler's cost per key against ``RandomSampler``'s per index;
* one epoch of ``SeededDataLoader`` against a plain shuffling ``DataLoader``
  (persistent workers for ``num_workers=2``, so worker start-up is not counted).

    python benchmarks/bench_data.py [--rounds 9] [--samples 4096] [--batch 32]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler

from reprotorch.data import SampleKey, SeededDataLoader, SeededDataset, SeededSampler


class LightAugDataset:
    """A small image-like sample with a typical cheap augmentation from all three global generators."""

    def __init__(self, n: int) -> None:
        self.data = torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> torch.Tensor:
        x = self.data[i]
        if random.random() < 0.5:
            x = x.flip(-1)
        x = x + float(np.random.normal(0.0, 0.1))
        return x * torch.rand(1)


def _loop_bare(ds: Any, idx: list[int]) -> float:
    start = time.perf_counter()
    for i in idx:
        ds[i]
    return time.perf_counter() - start


def _loop_seeded(ds: SeededDataset, keys: list[SampleKey]) -> float:
    start = time.perf_counter()
    for k in keys:
        ds[k]
    return time.perf_counter() - start


def _loop_batched(ds: SeededDataset, keys: list[SampleKey], batch: int) -> float:
    start = time.perf_counter()
    for b in range(0, len(keys), batch):
        ds.__getitems__(keys[b : b + batch])
    return time.perf_counter() - start


def _loop_bare_batched(ds: Any, idx: list[int], batch: int) -> float:
    start = time.perf_counter()
    for b in range(0, len(idx), batch):
        [ds[i] for i in idx[b : b + batch]]
    return time.perf_counter() - start


def _us(seconds: float, n: int) -> float:
    return seconds / n * 1e6


class WorkerBench:
    """Item w runs the bare and seeded loops inside DataLoader worker w and returns the per-sample times.

    The workers take turns (a lock inherited through fork), so the two never
    compete for the CPU while measuring.
    """

    def __init__(self, samples: int, rounds: int) -> None:
        import multiprocessing

        self.samples, self.rounds = samples, rounds
        self.lock = multiprocessing.get_context("fork").Lock()

    def __len__(self) -> int:
        return 2

    def __getitem__(self, _: int) -> list[tuple[float, float]]:
        base = LightAugDataset(self.samples)
        seeded = SeededDataset(base)
        keys = list(SeededSampler(base, seed=1))
        idx = [int(k) for k in keys]
        out = []
        _loop_bare(base, idx[:256]), _loop_seeded(seeded, keys[:256])  # warm-up
        for _ in range(self.rounds):
            with self.lock:
                out.append((_us(_loop_bare(base, idx), len(idx)), _us(_loop_seeded(seeded, keys), len(keys))))
        return out


def _epoch(loader: Any) -> float:
    start = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - start


def _row(name: str, bare: list[float], seeded: list[float], unit: str = "µs/sample") -> None:
    overhead = statistics.median(s - b for s, b in zip(seeded, bare))
    ratio = statistics.median(s / b for s, b in zip(seeded, bare))
    print(
        f"  {name:<44} bare {statistics.median(bare):8.2f}  seeded {statistics.median(seeded):8.2f}  "
        f"overhead {overhead:7.2f} {unit}  ratio {ratio:5.2f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(1)
    n, batch, rounds = args.samples, args.batch, args.rounds

    base = LightAugDataset(n)
    seeded = SeededDataset(base)
    keys = list(SeededSampler(base, seed=1))
    idx = [int(k) for k in keys]
    for _ in range(2):  # warm-up
        _loop_bare(base, idx[:512]), _loop_seeded(seeded, keys[:512]), _loop_batched(seeded, keys[:512], batch)

    print(f"reprotorch.data benchmark: {n} samples, batch {batch}, {rounds} rounds, medians")
    print("per-sample overhead of SeededDataset (python + numpy + torch seeded per sample):")
    bare_t: list[float] = []
    one_t: list[float] = []
    bare_b: list[float] = []
    batched_t: list[float] = []
    for _ in range(rounds):
        bare_t.append(_us(_loop_bare(base, idx), n))
        one_t.append(_us(_loop_seeded(seeded, keys), n))
        bare_b.append(_us(_loop_bare_batched(base, idx, batch), n))
        batched_t.append(_us(_loop_batched(seeded, keys, batch), n))
    _row("num_workers=0, __getitems__ (DataLoader path)", bare_b, batched_t)
    _row("num_workers=0, one __getitem__ at a time", bare_t, one_t)

    worker_rounds = DataLoader(
        WorkerBench(n // 2, rounds), batch_size=None, num_workers=2, multiprocessing_context="fork"
    )
    per_worker = list(worker_rounds)
    pairs = [p for w in per_worker for p in w]
    _row("num_workers=2, inside the workers", [b for b, _ in pairs], [s for _, s in pairs])

    sampler_t: list[float] = []
    random_t: list[float] = []
    seeded_sampler = SeededSampler(base, seed=1)
    random_sampler = RandomSampler(base, generator=torch.Generator().manual_seed(1))
    for _ in range(rounds):
        start = time.perf_counter()
        list(random_sampler)
        random_t.append(_us(time.perf_counter() - start, n))
        start = time.perf_counter()
        list(seeded_sampler)
        sampler_t.append(_us(time.perf_counter() - start, n))
    _row("sampler: SeededSampler vs RandomSampler", random_t, sampler_t, "µs/index ")

    print(f"one epoch ({n} samples, batch {batch}), SeededDataLoader vs DataLoader(shuffle=True):")
    for workers in (0, 2):
        extra = {"num_workers": workers, "persistent_workers": workers > 0}
        plain = DataLoader(base, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0), **extra)
        ours = SeededDataLoader(base, batch, seed=0, **extra)
        loaders: dict[str, Any] = {"plain": plain, "seeded": ours}
        for loader in loaders.values():
            _epoch(loader)  # warm-up (and worker start-up)
        times: dict[str, list[float]] = {k: [] for k in loaders}
        for _ in range(rounds):
            for name, loader in loaders.items():
                times[name].append(_epoch(loader) * 1e3)
        _row(f"num_workers={workers}", times["plain"], times["seeded"], "ms/epoch ")
        del plain, ours, loaders


if __name__ == "__main__":
    main()
