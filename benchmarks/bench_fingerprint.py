"""Fingerprint throughput on a 256 MiB float32 CPU tensor, against clone and save+sha256.

Targets (issue 4): ``reprotorch.fingerprint`` at least 2x the throughput of
``tensor.clone()`` and at least 10x that of ``hashlib.sha256(torch.save(...))``.
All three are measured in the same process, interleaved round after round, and
reported as medians.

    python benchmarks/bench_fingerprint.py [--mib 256] [--rounds 7] [--threads 0]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import time
from collections.abc import Callable

import torch

from reprotorch import fingerprint


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def save_sha256(t: torch.Tensor) -> str:
    buf = io.BytesIO()
    torch.save(t, buf)
    return hashlib.sha256(buf.getbuffer()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: leave as is)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    t = torch.randn(args.mib * 2**20 // 4, generator=torch.Generator().manual_seed(0))
    nbytes = t.numel() * t.element_size()
    view = t.view(-1, 1024).t()  # a non-contiguous view of the same data (hashed via one copy)
    candidates: dict[str, Callable[[], object]] = {
        "fingerprint (xxh3-128)": lambda: fingerprint(t),
        "tensor.clone()": lambda: t.clone(),
        "torch.save + sha256": lambda: save_sha256(t),
        "fingerprint, transposed view": lambda: fingerprint(view),
    }
    for fn in candidates.values():  # warm-up: page in, allocator caches
        fn()
    times: dict[str, list[float]] = {k: [] for k in candidates}
    for _ in range(args.rounds):
        for name, fn in candidates.items():
            times[name].append(timed(fn))

    gbps = {k: nbytes / statistics.median(v) / 1e9 for k, v in times.items()}
    print(f"{args.mib} MiB float32 CPU tensor, {args.rounds} rounds, torch threads {torch.get_num_threads()}")
    print(f"{'operation':<32}{'median s':>10}{'GB/s':>9}")
    for name, v in times.items():
        print(f"{name:<32}{statistics.median(v):>10.4f}{gbps[name]:>9.2f}")
    fp = gbps["fingerprint (xxh3-128)"]
    vs_clone = fp / gbps["tensor.clone()"]
    vs_save = fp / gbps["torch.save + sha256"]
    print(f"fingerprint / clone throughput:       {vs_clone:6.2f}x  (target >= 2x: {'met' if vs_clone >= 2 else 'NOT met'})")
    print(f"fingerprint / save+sha256 throughput: {vs_save:6.2f}x  (target >= 10x: {'met' if vs_save >= 10 else 'NOT met'})")


if __name__ == "__main__":
    main()
