"""A small real CNN training loop with switches that break reproducibility in known ways.

Imported by the tracing tests (``train(...)``) and run as a script in a fresh
interpreter (``python cnn.py OUT [options]``) where a test needs separate
processes -- for example so that Python's ``random`` starts from fresh OS entropy.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import sys
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import reprotorch


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.drop = nn.Dropout(0.2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.drop(x)
        x = F.relu(self.conv2(x))
        return self.fc(self.pool(x).flatten(1))


def make_loader(batch_size: int = 16, n: int = 96) -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(1234)  # the data set itself is fixed
    images = torch.randn(n, 3, 16, 16, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    ds = torch.utils.data.TensorDataset(images, labels)
    # shuffle=True draws from torch's global generator: data order is seeded randomness.
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True)


def augment(x: torch.Tensor) -> torch.Tensor:
    """Random horizontal flip per sample, from torch's global generator."""
    flip = torch.rand(x.shape[0]) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def train(
    path: str | None,
    *,
    steps: int = 8,
    mode: str = "model",
    seed: int | None = 0,
    seed_python: bool = True,
    perturb_input_step: int | None = None,
    nudge_param_step: int | None = None,
    extra_rng_step: int | None = None,
    extra_module_step: int | None = None,
    extra_ops: bool = False,
    every: int = 1,
    record: tuple[str, ...] | None = None,
    tracer: Any = None,
    trace_from: int = 0,
) -> Net:
    """Train ``Net`` for ``steps`` optimizer steps, tracing to ``path``.

    ``mode`` is ``"model"`` (Tracer(model=net)), ``"global"`` (every module) or
    ``"none"``. The perturbations act as their names say, each "before step k"
    meaning after step k-1's optimizer step or, for the RNG, before it.
    ``trace_from=k`` starts the tracer only at step k, with ``first_step=k``: the
    trace a run resumed after k steps records (every state is as it was then).
    """
    if seed is not None and seed_python:
        reprotorch.seed_everything(seed)
    elif seed is not None:  # leave Python's `random` alone
        np.random.seed(seed)
        torch.manual_seed(seed)
    net = Net()
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    loader = make_loader()
    kwargs: dict[str, Any] = {"every": every}
    if record is not None:
        kwargs["record"] = record
    own = tracer is None and mode != "none"

    def start_tracer() -> Any:
        return reprotorch.Tracer(path, model=net if mode == "model" else None,
                                 first_step=trace_from, **kwargs).start()

    if own and not trace_from:
        tracer = start_tracer()
    try:
        batches = itertools.chain.from_iterable(itertools.repeat(loader))
        for step, (xb, yb) in zip(range(steps), batches):
            if own and trace_from and step == trace_from:
                tracer = start_tracer()
            xb = augment(xb)
            if step == perturb_input_step:
                xb = xb.clone()
                xb[0, 0, 0, 0] += 1e-3
            out = net(xb)
            loss = criterion(out, yb)
            if tracer is not None and mode == "model":
                tracer.loss(loss)
            if extra_ops:  # work outside every module: must not disturb the alignment
                _ = (out.softmax(-1) * out).sum() + xb.mean()
            if step == extra_module_step:
                with torch.no_grad():
                    net.fc(torch.zeros(1, 16))
            opt.zero_grad()
            loss.backward()
            if extra_rng_step is not None and step + 1 == extra_rng_step:
                torch.rand(1)  # consumes RNG: step `extra_rng_step` starts from another state
            opt.step()
            if nudge_param_step is not None and step + 1 == nudge_param_step:
                with torch.no_grad():
                    w = net.bn1.weight
                    w[0] = torch.nextafter(w[0], torch.tensor(float("inf")))
    finally:
        if own and tracer is not None:
            tracer.close()
    return net


def dist_train(rank: int, world: int, path: str) -> dict[str, Any]:
    """One rank of a 2-process DDP run on gloo, traced; returns the file it wrote."""
    reprotorch.seed_everything(0)
    net = torch.nn.parallel.DistributedDataParallel(Net())
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(100 + rank)  # each rank has its own shard
    with reprotorch.trace(net, path) as tracer:
        for _ in range(3):
            x = torch.randn(8, 3, 16, 16, generator=g)
            y = torch.randint(0, 10, (8,), generator=g)
            loss = F.cross_entropy(net(x), y)
            tracer.loss(loss)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return {"path": str(tracer.path), "rank": rank}


def _main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--trace-first", action="store_true",
                   help="start a global tracer before seeding, as `reprotorch run --trace` does")
    p.add_argument("--kill-after", type=int, default=None, help="SIGKILL itself after N steps")
    p.add_argument("--no-close", action="store_true", help="leave closing to atexit")
    args = p.parse_args()

    tracer = None
    if args.trace_first:
        tracer = reprotorch.Tracer(args.out).start()
    np.random.seed(0)
    torch.manual_seed(0)
    if tracer is None:
        tracer = reprotorch.Tracer(args.out).start()
    net = Net()
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    batches = itertools.chain.from_iterable(itertools.repeat(make_loader()))
    for step, (xb, yb) in zip(range(args.steps), batches):
        xb = xb + torch.from_numpy(np.random.normal(0, 0.01, size=xb.shape).astype(np.float32))
        loss = criterion(net(augment(xb)), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if args.kill_after is not None and step + 1 == args.kill_after:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    if not args.no_close:
        tracer.close()


if __name__ == "__main__":
    _main()


# --- helpers for the DataLoader worker test (importable in spawned workers) ---

_worker_tracers: list[Any] = []


class JitterDataset(torch.utils.data.Dataset):
    """Each sample passes through an nn.Module transform, in whichever process loads it."""

    def __init__(self) -> None:
        self.jitter = Jitter()

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.jitter(torch.full((3,), float(i)))


class Jitter(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.01 * torch.randn(x.shape)


def start_tracer_in_worker(worker_id: int) -> None:
    """What `reprotorch run --trace` does in every interpreter: a global tracer on the same path."""
    path = os.environ["REPROTORCH_TEST_TRACE"]
    _worker_tracers.append(reprotorch.Tracer(path).start())  # closed by atexit
