"""Property 2: a (seed, epoch, index) gets the same augmentation on world size 1 and on two gloo ranks."""

from __future__ import annotations

from typing import Any

from data_scripts.data_common import AugDataset, fingerprint
from dist_util import run_distributed

from reprotorch.data import SeededDataLoader, SeededDataset


def _per_sample(loader: Any, epochs: int) -> dict[str, str]:
    """{"epoch:index": fingerprint of that sample} from batches that carry their indices."""
    out = {}
    for epoch in range(epochs):
        for x, y, idx in loader:
            for row in range(len(idx)):
                out[f"{epoch}:{int(idx[row])}"] = fingerprint([x[row], y[row]])
    return out


def _rank_samples(rank: int, world: int) -> dict[str, Any]:
    # world size and rank come from torch.distributed (num_replicas=None, rank=None)
    loader = SeededDataLoader(SeededDataset(AugDataset(n=21)), 3, seed=11, num_workers=1)
    assert (loader.sampler.num_replicas, loader.sampler.rank) == (world, rank)
    return {"samples": _per_sample(loader, 2), "len": len(loader)}


def test_same_augmentation_on_world_size_1_and_2() -> None:
    single = _per_sample(SeededDataLoader(AugDataset(n=21), 3, seed=11), 2)
    results = run_distributed(_rank_samples, 2, timeout=120)
    assert all(status == "ok" for status, _ in results), results
    merged: dict[str, str] = {}
    for _, value in results:
        assert value["len"] == 4  # 21 samples padded to 22: 11 per rank, batches of 3
        for key, print_ in value["samples"].items():
            assert merged.setdefault(key, print_) == print_  # padded duplicates agree too
            assert single[key] == print_
    assert set(merged) == set(single)  # both ranks together cover every (epoch, index)
    # and the augmentation really varies with the epoch
    assert single["0:5"] != single["1:5"]
