"""SeededDataLoader with real worker processes: identical batches for any num_workers (property 1),
the failure it fixes (property 5), epochs and state dicts, bad input (property 6), worker seeding."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import numpy as np
import pytest
import torch
from data_scripts.data_common import (
    AugDataset,
    ExplicitRNGDataset,
    Trainer,
    fingerprint,
    make_model,
    make_optimizer,
    params_bytes,
)
from torch.utils.data import DataLoader, IterableDataset

import reprotorch
from reprotorch.data import (
    SeededDataLoader,
    SeededDataset,
    build_dataloader,
    loader_kwargs,
    worker_init_fn,
)


def _epochs(loader: Any, n: int) -> list[list[str]]:
    return [[fingerprint(b) for b in loader] for _ in range(n)]


_REFERENCE: dict[str, list[list[str]]] = {}


def _reference(kind: str) -> list[list[str]]:
    if kind not in _REFERENCE:
        ds = AugDataset() if kind == "global" else ExplicitRNGDataset()
        _REFERENCE[kind] = _epochs(SeededDataLoader(ds, 4, seed=7), 3)
    return _REFERENCE[kind]


# ------------------------------------------------------------------ property 1


@pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")
@pytest.mark.parametrize(
    "num_workers,persistent",
    [(0, False), (1, False), (1, True), (2, False), (2, True), (3, False), (3, True)],
)
def test_same_batches_for_any_num_workers_and_persistence(num_workers: int, persistent: bool) -> None:
    extra = {"persistent_workers": True} if persistent else {}
    loader = SeededDataLoader(AugDataset(), 4, seed=7, num_workers=num_workers, **extra)
    got = _epochs(loader, 3)
    ref = _reference("global")
    assert got == ref
    assert len({tuple(e) for e in ref}) == 3  # the epochs differ from each other
    assert loader.epoch == 3


def test_spawned_workers_give_the_same_batches() -> None:
    # spawn (the macOS and Windows default) pickles the dataset, the keys and worker_init_fn
    loader = SeededDataLoader(AugDataset(), 4, seed=7, num_workers=1, multiprocessing_context="spawn")
    assert [fingerprint(b) for b in loader] == _reference("global")[0]


def test_explicit_generators_match_across_workers() -> None:
    loader = SeededDataLoader(ExplicitRNGDataset(), 4, seed=7, num_workers=2, persistent_workers=True)
    assert _epochs(loader, 3) == _reference("explicit")


def _train(num_workers: int) -> list[bytes]:
    reprotorch.seed_everything(31)
    model = make_model()
    trainer = Trainer(model, make_optimizer(model), SeededDataLoader(AugDataset(), 4, num_workers=num_workers))
    for _ in range(14):  # two epochs and a bit, with dropout drawing from the global torch generator
        trainer.step()
    return params_bytes(model)


def test_same_trained_parameters_with_dropout_for_0_and_2_workers() -> None:
    assert _train(0) == _train(2)


# ------------------------------------------------------------------ property 5


def test_plain_dataloader_differs_between_0_and_2_workers_and_seeded_one_does_not() -> None:
    def plain(num_workers: int) -> list[str]:
        reprotorch.seed_everything(0)
        return [fingerprint(b) for b in DataLoader(AugDataset(), batch_size=4, num_workers=num_workers)]

    def seeded(num_workers: int) -> list[str]:
        reprotorch.seed_everything(0)
        return [fingerprint(b) for b in SeededDataLoader(AugDataset(), 4, shuffle=False, num_workers=num_workers)]

    assert plain(0) != plain(2)
    assert plain(0) == plain(0)  # the difference is the workers, not noise
    assert seeded(0) == seeded(2)


# ------------------------------------------------------------------ epochs and state


def test_epoch_advances_only_when_an_iteration_completes() -> None:
    loader = SeededDataLoader(AugDataset(), 4, seed=1)
    it = iter(loader)
    next(it)
    assert loader.epoch == 0 and loader.state_dict()["batches"] == 1
    first_again = [fingerprint(b) for b in loader]  # a new iterator restarts epoch 0
    assert loader.epoch == 1 and loader.state_dict()["epoch"] == 1 and loader.state_dict()["batches"] == 0
    loader.set_epoch(0)
    assert [fingerprint(b) for b in loader] == first_again
    loader.set_epoch(5)
    assert loader.sampler.epoch == 5 and len(list(loader)) == len(loader) == 6 and loader.epoch == 6
    # a hook that sets the sampler's epoch directly (MMDetection's DistSamplerSeedHook) is followed
    loader.sampler.set_epoch(2)
    assert loader.epoch == 2 and loader.state_dict()["epoch"] == 2
    loader.set_epoch(0)
    assert [fingerprint(b) for b in loader] == first_again


def _take(loader: Any, n: int) -> tuple[list[str], Any]:
    it = iter(loader)
    return [fingerprint(next(it)) for _ in range(n)], it


def _roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    assert json.loads(json.dumps(loaded)) == loaded
    return loaded


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"drop_last": True},
        {"num_workers": 2, "prefetch_factor": 4, "persistent_workers": True, "drop_last": True},
    ],
)
def test_mid_epoch_state_continues_with_the_next_unconsumed_batch(kwargs: dict[str, Any]) -> None:
    dataset = AugDataset(n=26)  # 26 / 4: a short last batch unless drop_last
    full = _epochs(SeededDataLoader(dataset, 4, seed=3, **kwargs), 2)
    flat = full[0] + full[1]
    per_epoch = len(full[0])

    loader = SeededDataLoader(dataset, 4, seed=3, **kwargs)
    list(loader)
    seen, it = _take(loader, 2)  # workers have prefetched more than these two by now
    state = _roundtrip(loader.state_dict())
    assert (state["epoch"], state["batches"]) == (1, 2)
    del it

    fresh = SeededDataLoader(dataset, 4, seed=3, **kwargs)
    fresh.load_state_dict(state)
    assert fresh.epoch == 1 and fresh.state_dict()["batches"] == 2
    rest = [fingerprint(b) for b in fresh]
    assert seen + rest == full[1] and flat[per_epoch + 2 :] == rest
    assert fresh.epoch == 2


def test_state_after_the_last_batch_resumes_with_the_next_epoch() -> None:
    dataset = AugDataset()
    ref = _epochs(SeededDataLoader(dataset, 4, seed=3), 2)
    loader = SeededDataLoader(dataset, 4, seed=3)
    _take(loader, 6)  # all batches received, StopIteration not yet seen
    state = loader.state_dict()
    assert (state["epoch"], state["batches"]) == (0, 6)
    fresh = SeededDataLoader(dataset, 4, seed=3)
    fresh.load_state_dict(state)
    assert list(fresh) == [] and fresh.epoch == 1
    assert [fingerprint(b) for b in fresh] == ref[1]


def test_skipped_batches_are_not_loaded() -> None:
    loaded: list[int] = []

    class Recording(AugDataset):
        def __getitem__(self, i: int) -> Any:
            loaded.append(int(i))
            return super().__getitem__(i)

    loader = SeededDataLoader(Recording(), 4, seed=3)
    order = [int(k) for k in loader.sampler]
    _take(loader, 3)
    fresh = SeededDataLoader(Recording(), 4, seed=3)
    fresh.load_state_dict(loader.state_dict())
    loaded.clear()
    list(fresh)
    assert loaded == order[12:]


def test_set_epoch_keeps_a_loaded_position_only_for_its_epoch() -> None:
    loader = SeededDataLoader(AugDataset(), 4, seed=3)
    state = dict(loader.state_dict(), epoch=2, batches=4)
    loader.load_state_dict(state)
    loader.set_epoch(2)
    assert len(list(loader)) == 2
    loader.load_state_dict(state)
    loader.set_epoch(1)
    assert loader.state_dict()["batches"] == 0 and len(list(loader)) == 6


def test_set_epoch_after_a_peek_saves_the_start_of_the_epoch() -> None:
    # Peeking one batch (to build a model, log shapes) and then set_epoch(0) at the top of
    # the loop: the loop trains on epoch 0 from batch 0, so a state saved there must say
    # batch 0. It used to keep the abandoned iterator's position and skip a batch on resume.
    dataset = AugDataset()
    loader = SeededDataLoader(dataset, 4, seed=3)
    next(iter(loader))
    loader.set_epoch(0)
    state = loader.state_dict()
    assert (state["epoch"], state["batches"]) == (0, 0)
    continued = [fingerprint(b) for b in loader]
    fresh = SeededDataLoader(dataset, 4, seed=3)
    fresh.load_state_dict(state)
    assert [fingerprint(b) for b in fresh] == continued and len(continued) == 6


def test_iterating_does_not_consume_the_global_generators() -> None:
    for num_workers in (0, 2):
        reprotorch.seed_everything(4)
        before = (random.getstate(), np.random.get_state()[1].tobytes(), torch.get_rng_state())
        list(SeededDataLoader(AugDataset(), 4, num_workers=num_workers))
        after = (random.getstate(), np.random.get_state()[1].tobytes(), torch.get_rng_state())
        assert before[:2] == after[:2] and torch.equal(before[2], after[2])


# ------------------------------------------------------------------ property 6


def test_bad_construction_arguments() -> None:
    with pytest.raises(ValueError, match="empty"):
        SeededDataLoader([], 2, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        SeededDataLoader(AugDataset(), 0, seed=0)
    for bad in (None, True, 2.0, "4"):
        with pytest.raises(TypeError, match="batch_size"):
            SeededDataLoader(AugDataset(), bad, seed=0)  # type: ignore[arg-type]
    for reserved in ("sampler", "batch_sampler", "generator"):
        with pytest.raises(TypeError, match=reserved):
            SeededDataLoader(AugDataset(), 2, seed=0, **{reserved: None})
    with pytest.raises(TypeError, match="drop_last"):
        SeededDataLoader(AugDataset(), 2, seed=0, drop_last=1)

    class Stream(IterableDataset):
        def __iter__(self) -> Any:
            return iter(range(3))

    with pytest.raises(TypeError, match="map-style"):
        SeededDataLoader(Stream(), 2, seed=0)


def test_seed_none_needs_a_run_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    from reprotorch import seeding

    monkeypatch.setattr(seeding, "_current_seed", None)
    monkeypatch.delenv("REPROTORCH_SEED", raising=False)
    with pytest.raises(ValueError, match="seed_everything"):
        SeededDataLoader(AugDataset(), 2)
    with pytest.raises(ValueError, match="seed_everything"):
        loader_kwargs()
    with pytest.raises(ValueError, match="seed_everything"):
        build_dataloader(AugDataset(), 2, 0)
    with pytest.raises(ValueError, match="seed_everything"):
        worker_init_fn(0)
    reprotorch.seed_everything(12)
    assert SeededDataLoader(AugDataset(), 2).seed == 12


@pytest.mark.parametrize(
    "change,message",
    [
        ({"seed": 4}, "seed was 3 when saved, is 4"),
        ({"n": 25}, "dataset length was 24 when saved, is 25"),
        ({"batch_size": 3}, "batch size was 4 when saved, is 3"),
        ({"num_replicas": 2}, "world size"),
        ({"shuffle": False}, "shuffle"),
        ({"drop_last": True}, "drop_last"),
    ],
)
def test_state_from_another_configuration_is_refused(change: dict[str, Any], message: str) -> None:
    source = SeededDataLoader(AugDataset(), 4, seed=3)
    _take(source, 2)
    state = source.state_dict()
    config: dict[str, Any] = {"seed": 3, "n": 24, "batch_size": 4, "num_replicas": 1, "shuffle": True, "drop_last": False}
    config.update(change)
    target = SeededDataLoader(
        AugDataset(n=config["n"]),
        config["batch_size"],
        seed=config["seed"],
        shuffle=config["shuffle"],
        num_replicas=config["num_replicas"],
        rank=0,
        drop_last=config["drop_last"],
    )
    before = target.state_dict()
    with pytest.raises(ValueError, match=message):
        target.load_state_dict(state)
    assert target.state_dict() == before


def test_foreign_and_corrupt_states_are_refused_without_changes() -> None:
    loader = SeededDataLoader(AugDataset(), 4, seed=3)
    good = loader.state_dict()
    before = dict(good)
    for bad in ([1, 2], "state", None):
        with pytest.raises(TypeError, match="state_dict"):
            loader.load_state_dict(bad)  # type: ignore[arg-type]
    corrupt: list[tuple[dict[str, Any], str]] = [
        ({}, "not a SeededDataLoader state"),
        (reprotorch.capture_rng_state().to_dict(), "not a SeededDataLoader state"),
        (dict(good, version=99), "version 99"),
        ({k: v for k, v in good.items() if k != "batches"}, "missing batches"),
        (dict(good, batches=7), "past the end"),
        (dict(good, batches=-1), "non-negative"),
        (dict(good, epoch="1"), "epoch"),
        (dict(good, batches=True), "batches"),
        (dict(good, shuffle="yes"), "shuffle"),
    ]
    for state, message in corrupt:
        with pytest.raises(ValueError, match=message):
            loader.load_state_dict(state)
        assert loader.state_dict() == before


# ------------------------------------------------------------------ worker seeding


class _WorkerDraws:
    """Returns the worker's global draws without any per-sample seeding."""

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> tuple[float, float, float]:
        return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_worker_init_fn_streams_differ_across_workers_ranks_seeds_and_epochs() -> None:
    draws = []
    for seed in (0, 1):
        for rank in (0, 1):
            loader = DataLoader(_WorkerDraws(), batch_size=1, num_workers=2, **loader_kwargs(seed, rank=rank))
            for _epoch in range(2):
                for x, y, z in loader:
                    draws.append((x.item(), y.item(), z.item()))
    assert len(draws) == 16
    flat = [v for d in draws for v in d]
    assert len(set(flat)) == len(flat)  # no two workers, ranks, seeds, epochs or sources share a stream
    # and it is reproducible
    again = [tuple(t.item() for t in b) for b in DataLoader(_WorkerDraws(), batch_size=1, num_workers=2, **loader_kwargs(0))]
    assert again == draws[:2]


def test_mmdetection_style_partial_works() -> None:
    from functools import partial

    loader = DataLoader(
        _WorkerDraws(),
        batch_size=1,
        num_workers=2,
        generator=torch.Generator().manual_seed(5),
        worker_init_fn=partial(worker_init_fn, num_workers=2, rank=1, seed=9),
    )
    first = [tuple(t.item() for t in b) for b in loader]
    loader2 = DataLoader(
        _WorkerDraws(),
        batch_size=1,
        num_workers=2,
        generator=torch.Generator().manual_seed(5),
        worker_init_fn=partial(worker_init_fn, num_workers=2, rank=1, seed=9),
    )
    assert [tuple(t.item() for t in b) for b in loader2] == first


def test_loader_kwargs_make_a_plain_shuffling_dataloader_reproducible() -> None:
    def run() -> tuple[list[str], Any]:
        before = torch.get_rng_state()
        loader = DataLoader(AugDataset(), batch_size=4, shuffle=True, num_workers=2, **loader_kwargs(8))
        batches = [fingerprint(b) for b in loader]
        assert torch.equal(torch.get_rng_state(), before)  # the global generator was not used
        return batches, None

    torch.rand(5)
    first, _ = run()
    torch.rand(5)
    assert run()[0] == first


def test_worker_init_fn_bad_calls() -> None:
    with pytest.raises(RuntimeError, match="worker processes"):
        worker_init_fn(0, seed=1)
    with pytest.raises(TypeError):
        worker_init_fn("0", seed=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        worker_init_fn(0, rank=-1, seed=1)
    with pytest.raises(TypeError):
        loader_kwargs(1.5)  # type: ignore[arg-type]


# ------------------------------------------------------------------ build_dataloader


def test_build_dataloader_uses_mmdetection_arithmetic() -> None:
    loader = build_dataloader(AugDataset(), samples_per_gpu=2, workers_per_gpu=1, num_gpus=2, seed=5)
    assert isinstance(loader, SeededDataLoader) and isinstance(loader.dataset, SeededDataset)
    assert (loader.batch_size, loader.num_workers, loader.sampler.num_replicas, loader.seed) == (4, 2, 1, 5)
    dist_loader = build_dataloader(AugDataset(), 3, 0, dist=True, shuffle=False, seed=5, drop_last=True)
    assert (dist_loader.batch_size, dist_loader.num_workers, dist_loader.sampler.shuffle, len(dist_loader)) == (3, 0, False, 8)
    reprotorch.seed_everything(6)
    assert [fingerprint(b) for b in build_dataloader(AugDataset(), 4, 0)] == [
        fingerprint(b) for b in SeededDataLoader(AugDataset(), 4, seed=6)
    ]
    with pytest.raises(ValueError):
        build_dataloader(AugDataset(), 0, 1, seed=1)
    with pytest.raises(TypeError):
        build_dataloader(AugDataset(), 2, 1, dist="yes", seed=1)  # type: ignore[arg-type]
