"""Tracing across real processes: fresh interpreters, killed runs, spawned workers, gloo ranks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from dist_util import run_distributed
from tracing_scripts.cnn import JitterDataset, dist_train, start_tracer_in_worker

import reprotorch
from reprotorch import compare_traces, load_trace

SCRIPT = Path(__file__).parent / "tracing_scripts" / "cnn.py"


def run_scripts(*invocations: list[str]) -> list[subprocess.CompletedProcess]:
    """Start every invocation of cnn.py at once (two cores), then wait for all."""
    env = dict(os.environ)
    env.pop("PYTHONHASHSEED", None)
    env["PYTHONPATH"] = os.pathsep.join([str(SCRIPT.parent.parent), env.get("PYTHONPATH", "")])
    procs = [subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for args in invocations]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return results


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("runs")
    names = {
        # Seeds NumPy and torch but never touches Python's random, which therefore starts
        # from fresh OS entropy in each process. The tracer starts before the script
        # seeds (as `reprotorch run --trace` does) and is closed by atexit.
        "entropy1": ["--trace-first", "--no-close", "--steps", "4"],
        "entropy2": ["--trace-first", "--no-close", "--steps", "4"],
        "killed": ["--kill-after", "3", "--steps", "4"],
    }
    results = run_scripts(*([str(d / f"{n}.jsonl"), *args] for n, args in names.items()))
    for (name, _), res in zip(names.items(), results):
        expected = -9 if name == "killed" else 0
        assert res.returncode == expected, f"{name}: {res.stderr[-2000:]}"
    return {n: d / f"{n}.jsonl" for n in names}


def test_unused_python_generator_from_os_entropy_compares_identical(runs: dict[str, Path]) -> None:
    a, b = load_trace(runs["entropy1"]), load_trace(runs["entropy2"])
    python_states = [[e["fp"] for e in t.events if e["phase"] == "rng" and e["tensor"] == "python"]
                     for t in (a, b)]
    assert python_states[0][0] != python_states[1][0]  # really different in the two processes
    assert len(set(python_states[0])) == 1  # and never changed within a run
    numpy_states = [[e["fp"] for e in t.events if e["phase"] == "rng" and e["tensor"] == "numpy"]
                    for t in (a, b)]
    assert numpy_states[0][0] != numpy_states[1][0]  # entropy before the script seeded it...
    assert numpy_states[0][1:] == numpy_states[1][1:]  # ...and the same from then on
    notes: list[str] = []
    assert compare_traces(a, b, notes=notes) is None
    assert any("`python`" in n and "neither run drew from it" in n for n in notes)
    assert any("`numpy`" in n and "re-seeded" in n for n in notes)
    assert a.digest == b.digest and a.num_steps == 4


def test_atexit_completes_the_trace(runs: dict[str, Path]) -> None:
    t = load_trace(runs["entropy1"])
    assert t.complete and not t.truncated
    assert t.end_mark is not None and t.end_mark["steps"] == 4 and "python" in t.end_mark["rng"]


def test_killed_run_leaves_a_readable_prefix(runs: dict[str, Path]) -> None:
    t = load_trace(runs["killed"])
    assert not t.complete
    assert t.completed_steps == 3  # flushed at every step boundary before the SIGKILL
    d = compare_traces(runs["entropy1"], t)
    assert d is not None and (d.phase, d.step, d.kind) == ("end", 3, "ended_early")
    assert "no end mark" in d.hint and "killed or crashed" in d.hint


def test_truncated_mid_line_loads_up_to_the_last_whole_event(runs: dict[str, Path],
                                                              tmp_path: Path) -> None:
    raw = runs["entropy1"].read_bytes()
    lines = raw.split(b"\n")
    assert len(lines) > 60
    whole = b"\n".join(lines[:50]) + b"\n"
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(whole + lines[50][: len(lines[50]) // 2])
    t = load_trace(cut)
    assert t.truncated and not t.complete
    assert len(t.events) + len(t.marks) == 49  # 50 whole lines, one of them the header
    full = load_trace(runs["entropy1"])
    assert t.events == full.events[: len(t.events)]
    # the prefix of a run compares as a run that ended early
    d = compare_traces(full, t)
    assert d is not None and d.phase == "end"


def test_spawned_dataloader_workers_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tracer in each spawned worker (as the CLI bootstrap installs) must stay silent."""
    path = tmp_path / "t.jsonl"
    monkeypatch.setenv("REPROTORCH_TEST_TRACE", str(path))
    model = torch.nn.Linear(3, 1)
    loader = torch.utils.data.DataLoader(
        JitterDataset(), batch_size=4, num_workers=1, multiprocessing_context="spawn",
        worker_init_fn=start_tracer_in_worker,
    )
    with reprotorch.trace(path=path, record=("outputs",)) as t:
        for batch in loader:
            model(batch)
            t.step()
    del loader  # workers exit (running their atexit handlers) before we read the file
    tr = load_trace(path)
    assert tr.header["pid"] == os.getpid()
    assert [e["module"] for e in tr.events] == ["Linear", "Linear"]
    assert tr.completed_steps == 2 and tr.complete


def test_each_rank_writes_its_own_file(tmp_path: Path) -> None:
    path = tmp_path / "ddp.jsonl"
    results = run_distributed(dist_train, 2, str(path), timeout=180)
    assert [r[0] for r in results] == ["ok", "ok"], results
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["ddp.rank0.jsonl", "ddp.rank1.jsonl"]
    t0, t1 = (load_trace(tmp_path / f) for f in files)
    assert (t0.header["rank"], t0.header["world_size"]) == (0, 2)
    assert (t1.header["rank"], t1.header["world_size"]) == (1, 2)
    assert t0.completed_steps == t1.completed_steps == 3
    # DDP averages gradients: parameters agree across ranks, the data shards do not
    params = [[e["fp"] for e in t.events if e["phase"] == "optimizer"] for t in (t0, t1)]
    assert params[0] == params[1] and len(params[0]) == 3 * 8
    d = compare_traces(t0, t1)
    assert d is not None and (d.phase, d.step) == ("data", 0)
    assert reprotorch.tracing.find_rank_traces(path) == [tmp_path / f for f in files]
    with pytest.raises(FileNotFoundError, match="one file per rank"):
        load_trace(path)
