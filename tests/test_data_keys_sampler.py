"""SampleKey, the per-sample seed and SeededSampler: purity, sharding, distinctness (property 3)."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DistributedSampler

import reprotorch
from reprotorch.data import SampleKey, SeededSampler, sample_seed
from reprotorch.data.sampler import epoch_order

# ------------------------------------------------------------------ SampleKey


def test_sample_key_is_its_index_everywhere() -> None:
    key = SampleKey(3, epoch=2, seed=99)
    assert key == 3 and hash(key) == hash(3) and int(key) == 3
    assert [10, 11, 12, 13][key] == 13
    assert np.arange(5)[key] == 3
    assert torch.arange(5)[key].item() == 3
    assert type(key + 1) is int and str(key) == "3" and f"{key}" == "3"
    assert (key.epoch, key.seed) == (2, 99)
    assert "epoch=2" in repr(key)


def test_sample_key_is_immutable_and_round_trips() -> None:
    key = SampleKey.derive(5, seed=1, epoch=4)
    with pytest.raises(AttributeError):
        key.seed = 0  # type: ignore[misc]
    for clone in (pickle.loads(pickle.dumps(key)), copy.deepcopy(key)):
        assert type(clone) is SampleKey
        assert (int(clone), clone.epoch, clone.seed) == (5, 4, key.seed)


def test_sample_key_rejects_bad_values() -> None:
    with pytest.raises(TypeError):
        SampleKey("3", epoch=0, seed=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        SampleKey(3, epoch=True, seed=0)
    with pytest.raises(ValueError):
        SampleKey(-1, epoch=0, seed=0)
    with pytest.raises(ValueError):
        SampleKey(1, epoch=0, seed=2**64)


def test_sample_seed_is_a_pure_64_bit_function_of_seed_epoch_index() -> None:
    s = sample_seed(7, 3, 11)
    assert s == sample_seed(7, 3, 11) == SampleKey.derive(11, seed=7, epoch=3).seed
    assert 0 <= s < 2**64
    # it uses more than 32 bits: across many samples the high word varies too
    highs = {sample_seed(7, 0, i) >> 32 for i in range(64)}
    assert len(highs) == 64
    # each coordinate matters
    assert len({s, sample_seed(8, 3, 11), sample_seed(7, 4, 11), sample_seed(7, 3, 12)}) == 4


def test_sampler_keys_carry_the_derived_seed() -> None:
    sampler = SeededSampler(range(50), seed=5)
    sampler.set_epoch(3)
    keys = list(sampler)
    assert all(isinstance(k, SampleKey) and k.epoch == 3 for k in keys)
    assert all(k.seed == sample_seed(5, 3, int(k)) for k in keys)


# ------------------------------------------------------------------ orders and seeds (property 3)


def test_no_seed_epoch_pair_repeats_another_order_or_sample_seed() -> None:
    n = 64
    orders = set()
    seeds = set()
    for seed in range(32):
        sampler = SeededSampler(range(n), seed=seed)
        for epoch in range(32):
            sampler.set_epoch(epoch)
            keys = list(sampler)
            orders.add(tuple(int(k) for k in keys))
            seeds.update(k.seed for k in keys)
    assert len(orders) == 32 * 32
    assert len(seeds) == 32 * 32 * n  # no (seed, epoch, index) triple shares a per-sample seed


def test_seed_plus_epoch_arithmetic_does_not_alias() -> None:
    # DistributedSampler seeds seed + epoch: seed 0 at epoch 1 == seed 1 at epoch 0.
    def dist_order(seed: int, epoch: int) -> list[int]:
        s = DistributedSampler(range(40), num_replicas=1, rank=0, seed=seed)
        s.set_epoch(epoch)
        return list(s)

    assert dist_order(0, 1) == dist_order(1, 0)
    assert epoch_order(0, 1, 40).tolist() != epoch_order(1, 0, 40).tolist()


def test_order_is_a_uniform_permutation_with_no_positional_bias() -> None:
    n, trials = 8, 4000
    counts = np.zeros((n, n))
    for t in range(trials):
        order = epoch_order(11, t, n)
        assert sorted(order.tolist()) == list(range(n))
        counts[np.arange(n), order] += 1
    expected = trials / n
    chi2 = ((counts - expected) ** 2 / expected).sum()
    # 49 degrees of freedom: the 99.99th percentile is about 96; a biased shuffle lands far above.
    assert chi2 < 110, chi2


def test_shuffle_false_keeps_the_dataset_order() -> None:
    keys = list(SeededSampler(range(10), seed=1, shuffle=False))
    assert [int(k) for k in keys] == list(range(10))


# ------------------------------------------------------------------ world sizes and shards


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), world=st.integers(1, 7), seed=st.integers(0, 2**32 - 1), epoch=st.integers(0, 50), drop=st.booleans())
def test_shards_are_strided_slices_of_one_global_order(n: int, world: int, seed: int, epoch: int, drop: bool) -> None:
    if drop and n < world:
        with pytest.raises(ValueError, match="drop_last"):
            SeededSampler(range(n), seed=seed, num_replicas=world, rank=0, drop_last=True)
        return
    order = epoch_order(seed, epoch, n).tolist()  # the same for every world size
    shards = []
    for rank in range(world):
        s = SeededSampler(range(n), seed=seed, num_replicas=world, rank=rank, drop_last=drop)
        s.set_epoch(epoch)
        shard = list(s)
        assert len(shard) == len(s)
        shards.append(shard)
    total = len(shards[0]) * world
    padded = (order * (total // n + 1))[:total]
    for rank, shard in enumerate(shards):
        assert [int(k) for k in shard] == padded[rank:total:world]
    covered = {int(k) for shard in shards for k in shard}
    assert covered == (set(range(n)) if not drop else set(padded))
    # a key's seed does not depend on the world size or rank
    assert all(k.seed == sample_seed(seed, epoch, int(k)) for shard in shards for k in shard)


def test_padding_matches_distributed_sampler_sizes() -> None:
    for n, world, drop in [(10, 3, False), (10, 3, True), (2, 5, False), (9, 3, True)]:
        ours = SeededSampler(range(n), seed=0, num_replicas=world, rank=world - 1, drop_last=drop)
        theirs = DistributedSampler(range(n), num_replicas=world, rank=world - 1, drop_last=drop)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size


def test_world_defaults_to_one_process_without_torch_distributed() -> None:
    s = SeededSampler(range(5), seed=0)
    assert (s.num_replicas, s.rank) == (1, 0)


def test_iterator_is_bound_at_creation() -> None:
    sampler = SeededSampler(range(20), seed=3)
    it = iter(sampler)
    sampler.set_epoch(1)
    assert [int(k) for k in it] == epoch_order(3, 0, 20).tolist()


# ------------------------------------------------------------------ seeds and bad input


def test_seed_none_takes_the_run_seed_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from reprotorch import seeding

    monkeypatch.setattr(seeding, "_current_seed", None)
    monkeypatch.delenv("REPROTORCH_SEED", raising=False)
    with pytest.raises(ValueError, match="seed_everything"):
        SeededSampler(range(5))
    monkeypatch.setenv("REPROTORCH_SEED", "17")
    assert SeededSampler(range(5)).seed == 17
    reprotorch.seed_everything(23)
    assert SeededSampler(range(5)).seed == 23


def test_sampler_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        SeededSampler([], seed=0)
    with pytest.raises(TypeError, match="__len__"):
        SeededSampler(iter([1, 2]), seed=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        SeededSampler(range(3), seed="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SeededSampler(range(3), seed=-1)
    with pytest.raises(TypeError):
        SeededSampler(range(3), seed=0, shuffle=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rank"):
        SeededSampler(range(3), seed=0, num_replicas=2, rank=2)
    with pytest.raises(ValueError):
        SeededSampler(range(3), seed=0, num_replicas=0, rank=0)
    s = SeededSampler(range(3), seed=0)
    with pytest.raises(ValueError):
        s.set_epoch(-1)
    with pytest.raises(TypeError):
        s.set_epoch(1.0)  # type: ignore[arg-type]
    assert s.epoch == 0


def test_key_batches_cross_process_queues_intact() -> None:
    from multiprocessing.reduction import ForkingPickler

    from reprotorch.data.loader import _KeyBatch

    batch = _KeyBatch(SeededSampler(range(9), seed=2))
    back = pickle.loads(ForkingPickler.dumps(batch))
    assert all(type(k) is SampleKey for k in back)
    assert [(int(k), k.epoch, k.seed) for k in back] == [(int(k), k.epoch, k.seed) for k in batch]
