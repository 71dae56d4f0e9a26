"""Property 4: stop mid-epoch, save, exit; restore in a fresh process; the parameters match bit for bit.

Every run is a separate Python process (tests/data_scripts/resume_train.py):
one uninterrupted run of N steps, then for each configuration a process that
trains k steps and saves {model, optimizer, capture_rng_state(), loader.state_dict()},
and a fresh process that restores that checkpoint (torch.load(weights_only=True))
and trains to step N. The model has dropout, so the global torch generator
must be restored exactly too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

SCRIPT = Path(__file__).parent / "data_scripts" / "resume_train.py"
N = 15  # 6 batches per epoch: the runs cross two epoch boundaries


def _run(tmp: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("full")
    _run(tmp, "full", "--steps", str(N), "--out", str(tmp / "full.pt"))
    return torch.load(tmp / "full.pt", weights_only=True)


@pytest.mark.parametrize(
    "workers,persistent,k",
    [
        (0, False, 8),
        (2, False, 8),
        (2, True, 8),
        (0, False, 12),  # saved after the last batch of an epoch, before the loop saw its end
    ],
)
def test_resume_in_a_fresh_process_is_bitwise_identical(
    tmp_path: Path, uninterrupted: Any, workers: int, persistent: bool, k: int
) -> None:
    flags = ["--workers", str(workers)] + (["--persistent"] if persistent else [])
    ckpt = tmp_path / "ckpt.pt"
    _run(tmp_path, "first", "--steps", str(k), "--ckpt", str(ckpt), *flags)
    saved = torch.load(ckpt, weights_only=True)
    assert saved["loader"]["epoch"] == (k - 1) // 6 and saved["loader"]["batches"] == k - 6 * ((k - 1) // 6)
    _run(tmp_path, "second", "--steps", str(N), "--ckpt", str(ckpt), "--out", str(tmp_path / "resumed.pt"), *flags)
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=True)

    assert resumed["seen"] == uninterrupted["seen"][k:]  # exactly the unconsumed batches, in order
    assert len(resumed["params"]) == len(uninterrupted["params"])
    for a, b in zip(resumed["params"], uninterrupted["params"]):
        assert a.dtype == b.dtype and a.numpy().tobytes() == b.numpy().tobytes()
