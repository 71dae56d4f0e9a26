"""Shared fixtures: every test starts and ends with the same global RNG and determinism state."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _clean_global_state() -> Iterator[None]:
    import torch

    import reprotorch
    from reprotorch import seeding

    env_before = {k: os.environ.get(k) for k in ("REPROTORCH_SEED", "CUBLAS_WORKSPACE_CONFIG")}
    settings = reprotorch.DeterminismSettings.capture()
    seed_before = seeding._current_seed
    with reprotorch.isolate_rng():
        yield
    settings.apply()
    torch.use_deterministic_algorithms(settings.deterministic_algorithms)
    seeding._current_seed = seed_before
    for k, v in env_before.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
