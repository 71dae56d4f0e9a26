"""Run a function on N real processes joined by torch.distributed (gloo, localhost).

Each process gets ``fn(rank, world_size, *args)``; its return value (JSON-able)
or the exception text comes back to the test. Processes that do not finish in
``timeout`` seconds are killed and reported, so a hang fails the test instead
of freezing the suite.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import traceback
from collections.abc import Callable
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(fn: Callable[..., Any], rank: int, world: int, port: int, args: tuple, queue: Any) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    import datetime

    import torch.distributed as dist

    try:
        dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=60))
        try:
            result = fn(rank, world, *args)
            queue.put((rank, "ok", json.dumps(result)))
        finally:
            dist.destroy_process_group()
    except BaseException as exc:  # report every failure to the parent
        queue.put((rank, "error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


def run_distributed(fn: Callable[..., Any], world_size: int = 2, *args: Any, timeout: float = 120) -> list[tuple[str, Any]]:
    """Run ``fn`` on ``world_size`` spawned gloo ranks; return ``[(status, value_or_error), ...]`` by rank."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=_worker, args=(fn, r, world_size, port, args, queue)) for r in range(world_size)]
    for p in procs:
        p.start()
    results: dict[int, tuple[str, Any]] = {}
    import queue as queue_mod
    import time

    deadline = time.monotonic() + timeout
    while len(results) < world_size and time.monotonic() < deadline:
        try:
            rank, status, payload = queue.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue_mod.Empty:
            break
        results[rank] = (status, json.loads(payload) if status == "ok" else payload)
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join()
    for r in range(world_size):
        results.setdefault(r, ("timeout", f"rank {r} did not finish within {timeout}s"))
    return [results[r] for r in range(world_size)]
