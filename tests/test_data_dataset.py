"""SeededDataset and sample_rng: per-sample seeding, caller isolation, untouched sources."""

from __future__ import annotations

import pickle
import random
from typing import Any

import numpy as np
import pytest
import torch
from data_scripts.data_common import AugDataset, ExplicitRNGDataset, fingerprint

import reprotorch
from reprotorch.data import SampleKey, SampleRNG, SeededDataset, SeededSampler, sample_rng
from reprotorch.sources import register_source, unregister_source


def _globals() -> tuple[Any, ...]:
    return (random.getstate(), np.random.get_state()[1].tobytes(), torch.get_rng_state().numpy().tobytes())


def test_same_key_same_sample_whatever_came_before() -> None:
    ds = SeededDataset(AugDataset())
    key = SampleKey.derive(5, seed=1, epoch=0)
    first = fingerprint(ds[key])
    random.random(), np.random.rand(7), torch.rand(3)  # disturb every global stream
    for k in SeededSampler(ds, seed=1):  # and load other samples in between
        ds[k]
    assert fingerprint(ds[key]) == first


def test_epoch_and_seed_change_the_augmentation() -> None:
    ds = SeededDataset(AugDataset())
    prints = {fingerprint(ds[SampleKey.derive(5, seed=s, epoch=e)]) for s in range(4) for e in range(4)}
    assert len(prints) == 16


def test_main_process_restores_the_callers_generators() -> None:
    ds = SeededDataset(AugDataset())
    reprotorch.seed_everything(9)
    expected = (random.random(), np.random.rand(), torch.rand(2))
    reprotorch.seed_everything(9)
    before = _globals()
    ds[SampleKey.derive(1, seed=0, epoch=0)]
    ds.__getitems__([SampleKey.derive(i, seed=0, epoch=0) for i in range(4)])
    assert _globals() == before
    got = (random.random(), np.random.rand(), torch.rand(2))
    assert got[:2] == expected[:2] and torch.equal(got[2], expected[2])


def test_restores_even_when_the_dataset_raises() -> None:
    class Boom:
        def __len__(self) -> int:
            return 3

        def __getitem__(self, i: int) -> None:
            random.random(), np.random.rand(), torch.rand(1)
            raise KeyError("broken sample")

    ds = SeededDataset(Boom())
    before = _globals()
    with pytest.raises(KeyError, match="broken sample"):
        ds[SampleKey.derive(0, seed=0, epoch=0)]
    with pytest.raises(KeyError):
        ds.__getitems__([SampleKey.derive(0, seed=0, epoch=0)])
    assert _globals() == before
    with pytest.raises(RuntimeError):
        sample_rng()  # the sample's frame was popped too


def test_batch_and_single_loading_agree() -> None:
    ds = SeededDataset(AugDataset())
    keys = list(SeededSampler(ds, seed=4))[:6]
    assert [fingerprint(ds[k]) for k in keys] == [fingerprint(x) for x in ds.__getitems__(keys)]


def test_plain_int_keys_are_refused_with_a_pointer_to_seeded_sampler() -> None:
    ds = SeededDataset(AugDataset())
    before = _globals()
    for bad in (3, np.int64(3), torch.tensor(3)):
        with pytest.raises(TypeError, match="SeededSampler"):
            ds[bad]  # type: ignore[index]
    with pytest.raises(TypeError, match="SeededSampler"):
        ds.__getitems__([SampleKey.derive(0, seed=0, epoch=0), 1])  # type: ignore[list-item]
    assert _globals() == before


class _CountingSource:
    """A plugin source that records how it is used."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = 0
        self.calls: list[str] = []

    def available(self) -> bool:
        return True

    def seed(self, seed: int) -> None:
        self.calls.append("seed")
        self.value = seed

    def get_state(self) -> Any:
        self.calls.append("get")
        return self.value

    def set_state(self, state: Any) -> None:
        self.calls.append("set")
        self.value = state


def test_sources_not_chosen_are_not_touched_and_plugins_can_be_chosen() -> None:
    chosen, ignored = _CountingSource("test-chosen"), _CountingSource("test-ignored")
    register_source(chosen)  # type: ignore[arg-type]
    register_source(ignored)  # type: ignore[arg-type]
    try:
        seen: list[int] = []

        class Reads:
            def __len__(self) -> int:
                return 4

            def __getitem__(self, i: int) -> int:
                seen.append(chosen.value)
                return i

        ds = SeededDataset(Reads(), sources=("test-chosen",))
        np_before = np.random.get_state()[1].tobytes()
        py_before = random.getstate()
        torch_before = torch.get_rng_state()
        for epoch in range(2):
            ds[SampleKey.derive(1, seed=0, epoch=epoch)]
        assert ignored.calls == []
        assert chosen.value == 0 and chosen.calls.count("seed") == 2  # seeded, then restored
        assert seen[0] != seen[1] and 0 not in seen
        assert np.random.get_state()[1].tobytes() == np_before
        assert random.getstate() == py_before
        assert torch.equal(torch.get_rng_state(), torch_before)
    finally:
        unregister_source("test-chosen")
        unregister_source("test-ignored")


def test_sources_argument_is_validated() -> None:
    with pytest.raises(TypeError, match="tuple of source names"):
        SeededDataset(AugDataset(), sources="python")
    with pytest.raises(ValueError, match="no random source"):
        SeededDataset(AugDataset(), sources=("nope",))
    with pytest.raises(ValueError, match="twice"):
        SeededDataset(AugDataset(), sources=("python", "python"))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            SeededDataset(AugDataset(), sources=("cuda",))
    with pytest.raises(TypeError, match="map-style"):
        SeededDataset(iter([1, 2]))


def test_attributes_and_pickling_pass_through() -> None:
    base = AugDataset(n=5)
    base.CLASSES = ("cat", "dog")  # type: ignore[attr-defined]
    ds = SeededDataset(base, sources=("torch", "numpy", "python"))
    assert ds.CLASSES == ("cat", "dog") and len(ds) == 5
    clone = pickle.loads(pickle.dumps(ds))
    key = SampleKey.derive(2, seed=3, epoch=1)
    assert clone.sources == ("torch", "numpy", "python")
    assert fingerprint(clone[key]) == fingerprint(ds[key])


# ------------------------------------------------------------------ sample_rng


def test_sample_rng_outside_getitem_raises() -> None:
    with pytest.raises(RuntimeError, match="SeededDataset"):
        sample_rng()


def test_sample_rng_is_per_sample_stable_and_continues_within_a_sample() -> None:
    draws: list[tuple[float, float, float, float]] = []

    class UsesRNG:
        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int) -> None:
            rng = sample_rng()
            assert isinstance(rng, SampleRNG) and rng is sample_rng()
            assert isinstance(rng.numpy, np.random.Generator) and isinstance(rng.torch, torch.Generator)
            draws.append((rng.random.random(), rng.random.random(), float(rng.numpy.random()), float(torch.rand(1, generator=rng.torch))))

    ds = SeededDataset(UsesRNG())
    ds[SampleKey.derive(1, seed=0, epoch=0)]
    random.random(), np.random.rand()
    ds[SampleKey.derive(1, seed=0, epoch=0)]
    ds[SampleKey.derive(1, seed=0, epoch=1)]
    assert draws[0] == draws[1]
    assert draws[0][0] != draws[0][1]  # one stream per sample, not restarted per call
    assert draws[2] != draws[0]


def test_explicit_generators_are_independent_of_the_globals() -> None:
    ds = SeededDataset(ExplicitRNGDataset(), sources=())
    key = SampleKey.derive(3, seed=2, epoch=0)
    first = fingerprint(ds[key])
    reprotorch.seed_everything(1)
    assert fingerprint(ds[key]) == first
    # the per-sample generators do not replay the globals' streams
    class Both:
        def __len__(self) -> int:
            return 1

        def __getitem__(self, i: int) -> tuple[float, float]:
            return random.random(), sample_rng().random.random()

    a, b = SeededDataset(Both())[SampleKey.derive(0, seed=0, epoch=0)]
    assert a != b


def test_nested_seeded_datasets_keep_their_own_frames() -> None:
    inner_key = SampleKey.derive(0, seed=9, epoch=0)

    class Inner:
        def __len__(self) -> int:
            return 1

        def __getitem__(self, i: int) -> float:
            return sample_rng().random.random()

    inner = SeededDataset(Inner())

    class Outer:
        def __len__(self) -> int:
            return 1

        def __getitem__(self, i: int) -> tuple[float, float, float]:
            before = sample_rng().random.random()
            nested = inner[inner_key]
            return before, nested, sample_rng().random.random()

    outer_key = SampleKey.derive(0, seed=1, epoch=0)
    a, nested, b = SeededDataset(Outer())[outer_key]
    import random as _r

    from reprotorch.data._globals import salt
    from reprotorch.data.keys import mix64

    stream = _r.Random(mix64(outer_key.seed ^ salt("sample_rng.random")))
    assert (a, b) == (stream.random(), stream.random())
    assert nested == inner[inner_key]
