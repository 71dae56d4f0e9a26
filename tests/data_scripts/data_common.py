"""Datasets, a model and a training loop shared by the data tests and the resume script.

The augmentation draws from all three global generators (``random``,
``np.random``, ``torch.rand``), as torchvision transforms and MMDetection
pipelines do, so a test fails if any one of them is left unseeded.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import numpy as np
import torch


class AugDataset:
    """``n`` fixed base vectors; ``__getitem__`` scales, adds noise and masks them at random."""

    def __init__(self, n: int = 24, dim: int = 8) -> None:
        g = torch.Generator().manual_seed(1234)
        self.x = torch.randn(n, dim, generator=g)
        self.y = torch.randn(n, 1, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.x[i].clone()
        scale = random.uniform(0.5, 1.5)
        noise = torch.from_numpy(np.random.normal(0.0, 0.1, size=tuple(x.shape)).astype(np.float32))
        mask = (torch.rand(x.shape) > 0.2).float()
        return (x * scale + noise) * mask, self.y[i], torch.tensor(int(i))


class ExplicitRNGDataset(AugDataset):
    """The same augmentation, drawn from ``reprotorch.data.sample_rng()`` instead of the globals."""

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        from reprotorch.data import sample_rng

        rng = sample_rng()
        x = self.x[i].clone()
        scale = rng.random.uniform(0.5, 1.5)
        noise = torch.from_numpy(rng.numpy.normal(0.0, 0.1, size=tuple(x.shape)).astype(np.float32))
        mask = (torch.rand(x.shape, generator=rng.torch) > 0.2).float()
        return (x * scale + noise) * mask, self.y[i], torch.tensor(int(i))


def fingerprint(obj: Any) -> str:
    """SHA-256 over every tensor's dtype, shape and bytes, in order (bitwise identity)."""
    h = hashlib.sha256()

    def feed(o: Any) -> None:
        if isinstance(o, torch.Tensor):
            t = o.detach().contiguous().cpu()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.numpy().tobytes())
        elif isinstance(o, (list, tuple)):
            for v in o:
                feed(v)
        elif isinstance(o, dict):
            for k in sorted(o):
                h.update(str(k).encode())
                feed(o[k])
        else:
            h.update(repr(o).encode())

    feed(obj)
    return h.hexdigest()


def make_model() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(16, 1)
    )


def make_optimizer(model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


class Trainer:
    """A step-based loop that starts a new epoch whenever the loader's iterator runs out."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, loader: Any) -> None:
        self.model, self.optimizer, self.loader = model, optimizer, loader
        self._it: Any = None
        self.seen: list[str] = []

    def step(self) -> None:
        if self._it is None:
            self._it = iter(self.loader)
        try:
            batch = next(self._it)
        except StopIteration:
            self._it = iter(self.loader)
            batch = next(self._it)
        self.seen.append(fingerprint(batch))
        x, y, _ = batch
        self.model.train()
        loss = torch.nn.functional.mse_loss(self.model(x), y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


def params_bytes(model: torch.nn.Module) -> list[bytes]:
    return [p.detach().numpy().tobytes() for p in model.parameters()]
