"""``reprotorch diff``: manifests, traces and RNG-state files, through the real command line."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_util import clean_env, cli, one_line_error

import reprotorch


@pytest.fixture(scope="module")
def two_manifests(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``env --json`` twice, outside any git work tree, differing in one environment variable."""
    where = tmp_path_factory.mktemp("manifests")
    paths = []
    for name, extra in (("a.json", {}), ("b.json", {"CUDA_LAUNCH_BLOCKING": "1"})):
        result = cli("env", "--json", cwd=where, env=clean_env(**extra))
        assert result.returncode == 0, result.stderr
        (where / name).write_text(result.stdout)
        paths.append(where / name)
    return paths[0], paths[1]


def test_manifests_differing_in_one_variable_show_exactly_that(two_manifests: tuple[Path, Path]) -> None:
    a, b = two_manifests
    result = cli("diff", str(a), str(b))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "1 difference(s), most important first:"
    assert lines[1].split() == ["MEDIUM", "environment.CUDA_LAUNCH_BLOCKING", "(absent)", "->", "'1'"]
    assert len(lines) == 2

    as_json = cli("diff", "--json", str(a), str(b))
    doc = json.loads(as_json.stdout)
    assert doc["kind"] == "manifest" and doc["same"] is False
    assert doc["differences"] == [
        {"key": "environment.CUDA_LAUNCH_BLOCKING", "a": None, "b": "1", "importance": "medium"}
    ]

    same = cli("diff", str(a), str(a))
    assert same.returncode == 0
    assert "agree" in same.stdout


def test_the_variable_comes_before_less_important_differences(
    two_manifests: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = two_manifests
    doc = json.loads(b.read_text())
    doc["platform"]["node"] = "another-host"  # low: the host name alone changes no number
    doc["threads"]["cpu_count"] = 1024  # low
    edited = tmp_path / "b2.json"
    edited.write_text(json.dumps(doc))
    result = cli("diff", str(a), str(edited))
    assert result.returncode == 1
    keys = [line.split()[1] for line in result.stdout.splitlines()[1:]]
    assert keys[0] == "environment.CUDA_LAUNCH_BLOCKING"
    assert set(keys) == {"environment.CUDA_LAUNCH_BLOCKING", "platform.node", "threads.cpu_count"}


def _write_trace(path: Path, scale: float) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with reprotorch.trace(model, str(path)):
        for step in range(2):
            loss = model(torch.ones(4, 3) * (scale if step == 1 else 1.0)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()


def test_two_traces_give_their_first_divergence(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    _write_trace(a, 1.0)
    _write_trace(b, 1.0)
    _write_trace(c, 2.0)
    same = cli("diff", str(a), str(b))
    assert same.returncode == 0, same.stderr
    assert same.stdout.startswith("traces identical: 2 steps")
    differ = cli("diff", str(a), str(c))
    assert differ.returncode == 1, differ.stderr
    assert "step 1" in differ.stdout
    as_json = json.loads(cli("diff", "--json", str(a), str(c)).stdout)
    assert as_json["kind"] == "trace" and as_json["divergence"]["step"] == 1


def test_two_rng_states_name_the_sources_that_differ(tmp_path: Path) -> None:
    reprotorch.seed_everything(1)
    reprotorch.capture_rng_state().save(tmp_path / "a.json")
    np.random.rand(3)  # only NumPy's generator moves
    reprotorch.capture_rng_state().save(tmp_path / "b.json")
    result = cli("diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert result.returncode == 1, result.stderr
    assert "source numpy: state differs" in result.stdout
    assert "identical: " in result.stdout and "python" in result.stdout.split("identical: ")[1]
    same = cli("diff", str(tmp_path / "a.json"), str(tmp_path / "a.json"))
    assert same.returncode == 0
    assert same.stdout.startswith("RNG states identical")


def test_bad_files_are_one_line_errors_with_status_2(two_manifests: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = two_manifests
    truncated = tmp_path / "truncated.json"
    truncated.write_text(a.read_text()[:200])
    trace = tmp_path / "t.jsonl"
    _write_trace(trace, 1.0)
    corrupt_trace = tmp_path / "corrupt.jsonl"
    lines = trace.read_text().splitlines()
    corrupt_trace.write_text("\n".join([lines[0], "{not json at all", *lines[1:]]) + "\n")
    pickled = tmp_path / "state.pkl"
    pickled.write_bytes(pickle.dumps({"format": "reprotorch.manifest"}))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "something.else", "version": 1}))
    cases = [
        ((str(a), str(truncated)), "truncated or corrupt"),
        ((str(trace), str(corrupt_trace)), "corrupt.jsonl"),
        ((str(a), str(pickled)), "pickle"),
        ((str(a), str(other)), "format field is 'something.else'"),
        ((str(a), str(trace)), "cannot compare a manifest"),
        ((str(a), str(tmp_path / "missing.json")), "does not exist"),
    ]
    for args, expected in cases:
        result = cli("diff", *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in one_line_error(result), args


def test_identical_traces_still_show_their_notes(tmp_path: Path) -> None:
    """"Identical" rests on notes -- a killed run, steps only one trace covers: diff shows them."""
    a, killed = tmp_path / "a.jsonl", tmp_path / "killed.jsonl"
    _write_trace(a, 1.0)
    lines = a.read_text().splitlines(keepends=True)
    assert json.loads(lines[-1])["mark"] == "end"
    killed.write_text("".join(lines[:-1]))  # killed after its last step, before closing
    result = cli("diff", str(a), str(killed))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("traces identical: 2 steps")
    assert "note: B (killed.jsonl) has no end mark" in result.stdout
    doc = json.loads(cli("diff", "--json", str(a), str(killed)).stdout)
    assert doc["same"] is True and any("has no end mark" in n for n in doc["notes"])

    # a run resumed after step 1 (first_step=1) against the whole run
    resumed = tmp_path / "resumed.jsonl"
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.ones(4, 3)).sum().backward()
    opt.step()  # step 0, untraced
    with reprotorch.trace(model, str(resumed), first_step=1):
        loss = model(torch.ones(4, 3)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    result = cli("diff", str(a), str(resumed))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("traces identical on the 1 steps both cover (from step 1)")
    assert "step 0 is in A (a.jsonl) only, not compared" in result.stdout
