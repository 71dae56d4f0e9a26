"""init_random_seed and sync_seed on two real gloo processes over localhost."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from dist_util import run_distributed

import reprotorch


def _init_random_seed(rank: int, world: int) -> int:
    return reprotorch.init_random_seed(None)


def _sync_none(rank: int, world: int) -> int:
    return reprotorch.sync_seed()


def _sync_same(rank: int, world: int) -> int:
    return reprotorch.sync_seed(1333)


def _sync_different(rank: int, world: int) -> int:
    return reprotorch.sync_seed(1333 + rank)


def _sync_invalid_on_one(rank: int, world: int) -> int:
    return reprotorch.sync_seed(1333 if rank == 0 else -1)


def _sync_none_on_rank0(rank: int, world: int) -> int:
    return reprotorch.sync_seed(None if rank == 0 else 1333)


def _sync_none_on_rank1(rank: int, world: int) -> int:
    return reprotorch.sync_seed(1333 if rank == 0 else None)


def _sync_subgroup(rank: int, world: int) -> int:
    import torch.distributed as dist

    group = dist.new_group([0, 1])
    return reprotorch.sync_seed(None, group=group)


def test_init_random_seed_is_shared_by_all_ranks() -> None:
    results = run_distributed(_init_random_seed, 2, timeout=90)
    assert [s for s, _ in results] == ["ok", "ok"], results
    assert results[0][1] == results[1][1]
    assert 0 <= results[0][1] < 2**31


@pytest.mark.parametrize("fn", [_sync_none, _sync_same, _sync_subgroup])
def test_sync_seed_agrees(fn) -> None:
    results = run_distributed(fn, 2, timeout=90)
    assert [s for s, _ in results] == ["ok", "ok"], results
    assert results[0][1] == results[1][1]
    if fn is _sync_same:
        assert results[0][1] == 1333


@pytest.mark.parametrize(
    "fn,expected",
    [
        (_sync_different, "rank 0: 1333, rank 1: 1334"),
        (_sync_invalid_on_one, "rank 1: invalid"),
        # Some ranks pass a seed, others None: once a hang (the None ranks waited in a
        # broadcast the others never joined) until the process-group timeout.
        (_sync_none_on_rank0, "rank 0: None, rank 1: 1333"),
        (_sync_none_on_rank1, "rank 0: 1333, rank 1: None"),
    ],
)
def test_sync_seed_mismatch_raises_on_every_rank(fn, expected: str) -> None:
    results = run_distributed(fn, 2, timeout=60)
    for status, message in results:
        assert status == "error", results  # not "timeout": no hang
        assert "SeedMismatchError" in message and expected in message


def test_single_process_behaviour() -> None:
    assert reprotorch.init_random_seed(17) == 17
    assert reprotorch.sync_seed(17) == 17
    a, b = reprotorch.init_random_seed(), reprotorch.init_random_seed()
    assert 0 <= a < 2**31 and 0 <= b < 2**31
    with pytest.raises(ValueError):
        reprotorch.sync_seed(-1)
    with pytest.raises(TypeError):
        reprotorch.init_random_seed(1.5)  # type: ignore[arg-type]


def test_set_random_seed_matches_mmdetection() -> None:
    random.seed(1333)
    np.random.seed(1333)
    torch.manual_seed(1333)
    expected = (random.random(), np.random.rand(), torch.rand(2).tolist())
    assert reprotorch.set_random_seed(1333) == 1333
    assert (random.random(), np.random.rand(), torch.rand(2).tolist()) == expected


def test_set_random_seed_deterministic_flag() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reprotorch.set_random_seed(1, deterministic=True)
    assert torch.backends.cudnn.deterministic and torch.are_deterministic_algorithms_enabled()
    with pytest.raises(ValueError):
        reprotorch.set_random_seed(2**40)
