"""seed_everything and derive_seed: every source reproduces, streams are independent, bad seeds change nothing."""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

import reprotorch
from reprotorch import derive_seed, seed_everything


def _draws() -> tuple:
    return (
        [random.random() for _ in range(3)],
        np.random.rand(3).tolist(),
        torch.rand(3).tolist(),
        torch.randint(0, 2**31 - 1, (4,)).tolist(),
    )


@pytest.mark.parametrize("independent", [True, False])
def test_each_source_reproduces(independent: bool) -> None:
    seed_everything(1234, independent_streams=independent)
    first = _draws()
    seed_everything(1234, independent_streams=independent)
    assert _draws() == first
    seed_everything(1235, independent_streams=independent)
    second = _draws()
    for a, b in zip(first, second):
        assert a != b


def test_independent_streams_differ_between_numpy_and_torch() -> None:
    # The classic bug: same integer into both MT19937s gives the same numbers.
    np.random.seed(7)
    torch.manual_seed(7)
    assert np.random.randint(0, 256, 16).tolist() == torch.randint(0, 256, (16,)).tolist()

    seed_everything(7)
    assert np.random.randint(0, 256, 16).tolist() != torch.randint(0, 256, (16,)).tolist()


def test_not_independent_equals_plain_seeding() -> None:
    random.seed(99)
    np.random.seed(99)
    torch.manual_seed(99)
    plain = _draws()
    seed_everything(99, independent_streams=False)
    assert _draws() == plain


def test_numpy_integer_seed_accepted() -> None:
    assert seed_everything(np.uint32(5)) == 5
    assert seed_everything(np.int64(2**32 - 1)) == 2**32 - 1
    assert isinstance(seed_everything(np.int16(3)), int)


BAD_SEEDS = [
    (True, TypeError),
    (False, TypeError),
    (1.0, TypeError),
    ("3", TypeError),
    (np.float64(3), TypeError),
    (np.bool_(True), TypeError),
    (-1, ValueError),
    (2**32, ValueError),
    (np.int64(-5), ValueError),
]


@pytest.mark.parametrize("bad,exc", BAD_SEEDS)
def test_bad_seed_raises_and_changes_nothing(bad: object, exc: type) -> None:
    seed_everything(0)
    os.environ["REPROTORCH_SEED"] = "0"
    state = reprotorch.capture_rng_state()
    with pytest.raises(exc) as info:
        seed_everything(bad)  # type: ignore[arg-type]
    assert "[0, 4294967295]" in str(info.value)
    after = reprotorch.capture_rng_state()
    assert after.sources == state.sources
    assert os.environ["REPROTORCH_SEED"] == "0"


def test_bad_deterministic_argument_changes_nothing() -> None:
    seed_everything(0)
    state = reprotorch.capture_rng_state()
    with pytest.raises(ValueError, match="deterministic"):
        seed_everything(1, deterministic="yes")  # type: ignore[arg-type]
    assert reprotorch.capture_rng_state().sources == state.sources


class _Refuses64Bits:
    """A plugin whose library takes 32-bit seeds only and raises on the 64-bit derived ones."""

    name = "test-refuses-64"

    def available(self) -> bool:
        return True

    def seed(self, seed: int) -> None:
        if seed >= 2**32:
            raise ValueError(f"mylib.seed takes 32 bits, got {seed}")

    def get_state(self) -> int:
        return 0

    def set_state(self, state: object) -> None:
        pass


def test_a_plugin_that_fails_to_seed_leaves_every_generator_unchanged() -> None:
    from reprotorch.sources import register_source, unregister_source

    seed_everything(0)
    state = reprotorch.capture_rng_state()
    register_source(_Refuses64Bits())  # type: ignore[arg-type]
    try:
        with pytest.raises(ValueError, match="32 bits"):
            seed_everything(5)
        after = reprotorch.capture_rng_state().sources
        assert {k: after[k] for k in state.sources} == state.sources  # python, numpy, torch put back
        assert os.environ["REPROTORCH_SEED"] == "0"
    finally:
        unregister_source("test-refuses-64")


def test_bad_arguments_are_refused_before_a_seed_is_drawn(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("REPROTORCH_SEED", raising=False)
    with caplog.at_level(logging.WARNING, logger="reprotorch"), pytest.raises(TypeError):
        seed_everything(independent_streams="yes")  # type: ignore[arg-type]
    assert not caplog.records  # no "drew seed N, pass seed=N to re-create this run" for a run that never started


def test_seed_none_uses_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPROTORCH_SEED", "4242")
    assert seed_everything() == 4242
    a = _draws()
    seed_everything(4242)
    assert _draws() == a


def test_seed_none_bad_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPROTORCH_SEED", "banana")
    with pytest.raises(ValueError, match="REPROTORCH_SEED"):
        seed_everything()


def test_seed_none_draws_logs_and_recreates(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("REPROTORCH_SEED", raising=False)
    with caplog.at_level(logging.WARNING, logger="reprotorch"):
        seed = seed_everything()
    assert 0 <= seed <= 2**32 - 1
    assert any(str(seed) in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert os.environ["REPROTORCH_SEED"] == str(seed)
    a = _draws()
    seed_everything(seed)
    assert _draws() == a


def test_seed_exported_to_child_processes() -> None:
    seed_everything(31337)
    out = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ['REPROTORCH_SEED'])"],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == "31337"


def test_seed_everything_does_not_initialise_cuda() -> None:
    seed_everything(0)
    assert not torch.cuda.is_initialized()


# ----------------------------------------------------------------------------- derive_seed


def test_derive_seed_grid_has_no_collisions_64bit() -> None:
    seen = set()
    for seed in range(64):
        for rank in range(8):
            for worker in range(8):
                for epoch in range(8):
                    seen.add(derive_seed(seed, rank, worker, epoch, bits=64))
    assert len(seen) == 64 * 8 * 8 * 8


def test_additive_scheme_collides_but_derive_seed_does_not() -> None:
    def additive(seed: int, rank: int, worker: int, num_workers: int = 4) -> int:
        return seed + num_workers * rank + worker

    assert additive(0, 0, 1) == additive(1, 0, 0)  # the bug
    assert derive_seed(0, "worker", 0, 1) != derive_seed(1, "worker", 0, 0)


def test_derive_seed_32bit_has_no_systematic_collisions() -> None:
    # Neighbouring seeds and shifted keys: the patterns arithmetic schemes collide on.
    values = {}
    for seed in range(256):
        for a in range(8):
            for b in range(8):
                values[(seed, a, b)] = derive_seed(seed, a, b)
    assert len(set(values.values())) == len(values)
    assert derive_seed(1, 2) != derive_seed(2, 1)
    assert derive_seed(0, 1, 0) != derive_seed(0, 0, 1)
    assert derive_seed(5) != derive_seed(5, 0)
    assert derive_seed(5, 0) != derive_seed(5, 0, 0)
    assert derive_seed(5, "0") != derive_seed(5, 0)


@pytest.mark.parametrize("bits", [32, 64, 128])
def test_derive_seed_range_and_stability(bits: int) -> None:
    v = derive_seed(123, "order", 4, bits=bits)
    assert 0 <= v < 2**bits
    assert v == derive_seed(123, "order", 4, bits=bits)
    assert derive_seed(123, "order", 4, bits=32) == v & (2**32 - 1)


def test_derive_seed_is_stable_across_processes_and_hash_seeds() -> None:
    code = "import reprotorch; print(reprotorch.derive_seed(11, 'worker', 3, 'epoch', bits=128))"
    outs = set()
    for hashseed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hashseed)
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)
    assert len(outs) == 1
    assert int(outs.pop()) == derive_seed(11, "worker", 3, "epoch", bits=128)


def test_derive_seed_accepts_wide_parent_seed() -> None:
    child = derive_seed(1, "sample", bits=128)
    assert derive_seed(child, 0, bits=64) != derive_seed(child, 1, bits=64)


@pytest.mark.parametrize(
    "args,kwargs,exc",
    [
        ((-1,), {}, ValueError),
        ((1.5,), {}, TypeError),
        ((1, 1.0), {}, TypeError),
        ((1, -3), {}, ValueError),
        ((1, True), {}, TypeError),
        ((1, 2**64), {}, ValueError),
        ((1,), {"bits": 16}, ValueError),
    ],
)
def test_derive_seed_rejects_bad_input(args: tuple, kwargs: dict, exc: type) -> None:
    with pytest.raises(exc):
        derive_seed(*args, **kwargs)


def test_a_plugin_on_a_device_is_seeded_but_never_read_back() -> None:
    # Reading an accelerator's state initialises it; seeding must not, plugins included.
    from reprotorch.sources import register_source, unregister_source

    class DeviceSource:
        name = "fake_accelerator"
        on_device = True

        def __init__(self) -> None:
            self.seeds: list[int] = []

        def available(self) -> bool:
            return True

        def seed(self, seed: int) -> None:
            self.seeds.append(seed)

        def get_state(self) -> object:
            raise AssertionError("seeding read the device state back")

        def set_state(self, state: object) -> None:
            raise AssertionError("seeding wrote a device state")

    src = DeviceSource()
    register_source(src)
    try:
        seed_everything(3)
        assert src.seeds == [derive_seed(3, "source", "fake_accelerator", bits=64)]
    finally:
        unregister_source("fake_accelerator")
