"""``sample_rng()``: explicit per-sample generators for code that takes a generator argument.

The generators are built only when asked for (a NumPy ``Generator`` costs about
5 µs to create) and once per sample: calling ``sample_rng()`` twice inside one
``__getitem__`` returns the same objects, so successive draws continue one
stream instead of repeating the first numbers.
"""

from __future__ import annotations

import random
import threading
from typing import Any, NamedTuple

from .keys import mix64

__all__ = ["SampleRNG", "sample_rng"]


class SampleRNG(NamedTuple):
    """Generators seeded from the current sample's key: ``random``, ``numpy`` and ``torch`` (CPU)."""

    random: random.Random
    numpy: Any  # numpy.random.Generator (typed loosely so importing this module needs no NumPy)
    torch: Any  # torch.Generator


_local = threading.local()


def _stack() -> list[list[Any]]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def push(seed: int) -> list[Any]:
    """Enter a sample: ``sample_rng()`` now answers for ``seed``. Returns the frame to pop."""
    frame = [seed, None]
    _stack().append(frame)
    return frame


def pop(frame: list[Any]) -> None:
    stack = _stack()
    if stack and stack[-1] is frame:
        stack.pop()


def _build(seed: int) -> SampleRNG:
    import numpy as np
    import torch

    from ._globals import salt

    gen = torch.Generator()
    gen.manual_seed(mix64(seed ^ salt("sample_rng.torch")))
    return SampleRNG(
        random.Random(mix64(seed ^ salt("sample_rng.random"))),
        np.random.Generator(np.random.PCG64(mix64(seed ^ salt("sample_rng.numpy")))),
        gen,
    )


def sample_rng() -> SampleRNG:
    """The per-sample generators of the sample being loaded by ``SeededDataset.__getitem__``.

    They are a pure function of the sample's key (seed, epoch, index) and
    independent of the global generators that ``SeededDataset`` seeds. Outside
    ``SeededDataset.__getitem__`` there is no sample, and this raises ``RuntimeError``.
    """
    stack = _stack()
    if not stack:
        raise RuntimeError(
            "reprotorch.data.sample_rng() was called outside SeededDataset.__getitem__; "
            "wrap the dataset in SeededDataset (or use SeededDataLoader) and call it from "
            "the wrapped dataset's __getitem__ or its transforms"
        )
    frame = stack[-1]
    if frame[1] is None:
        frame[1] = _build(frame[0])
    rng: SampleRNG = frame[1]
    return rng
