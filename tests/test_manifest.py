"""``reprotorch.manifest()`` and ``reprotorch.diff_manifests()``: content, ranking, bad input."""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import reprotorch
from reprotorch.launch import BOOT_DIR
from reprotorch.manifest import (
    FORMAT_NAME,
    FORMAT_VERSION,
    Difference,
    Importance,
    git_state,
    load_manifest,
    write_manifest,
)


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    return reprotorch.manifest()


def test_manifest_is_a_versioned_json_document(base: dict[str, Any], tmp_path: Path) -> None:
    assert base["format"] == FORMAT_NAME and base["version"] == FORMAT_VERSION
    for section in ("python", "platform", "torch", "numpy", "devices", "threads", "determinism",
                    "seed", "environment", "git", "distributions", "command"):
        assert section in base
    assert json.loads(json.dumps(base, allow_nan=False)) == base
    assert base["torch"]["version"] == torch.__version__
    assert base["threads"]["torch_intra_op"] == torch.get_num_threads()
    assert base["devices"]["cuda_available"] == torch.cuda.is_available()
    assert base["distributions"]["count"] == len(base["distributions"]["list"])
    path = tmp_path / "sub" / "m.json"
    write_manifest(path, base)
    assert load_manifest(path) == base
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]  # no temporary file left behind


@pytest.mark.filterwarnings("ignore:reprotorch. PYTHONHASHSEED was not set")
def test_manifest_reflects_flags_seed_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NCCL_ALGO", "Tree")
    monkeypatch.setenv("SOME_UNRELATED_VARIABLE", "x")
    monkeypatch.setenv("REPROTORCH_BOOT_TRACE", "/tmp/a-temporary-path")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([BOOT_DIR, "/opt/mine"]))
    reprotorch.seed_everything(123)
    with reprotorch.deterministic():
        doc = reprotorch.manifest()
    assert doc["seed"] == 123
    assert doc["determinism"]["deterministic_algorithms"] is True
    assert doc["determinism"]["cudnn_benchmark"] is False
    env = doc["environment"]
    assert env["NCCL_ALGO"] == "Tree"
    assert "SOME_UNRELATED_VARIABLE" not in env
    assert "REPROTORCH_BOOT_TRACE" not in env
    assert env["PYTHONPATH"] == "/opt/mine"  # reprotorch run's own directory is not the user's setting
    assert env["REPROTORCH_SEED"] == "123"


def test_manifest_without_torch_does_not_import_it(tmp_path: Path) -> None:
    code = (
        "import json, sys; from reprotorch.manifest import manifest; d = manifest(import_torch=False); "
        "print(json.dumps([d['torch']['imported'], d['determinism'], 'torch' in sys.modules, 'numpy' in sys.modules]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [False, None, False, False]


def test_identical_manifests_have_no_differences(base: dict[str, Any]) -> None:
    other = copy.deepcopy(base)
    other["created"] = "2000-01-01T00:00:00+00:00"  # when and which pid say nothing about the numbers
    other["command"]["pid"] = 1
    assert reprotorch.diff_manifests(base, other) == []


def test_differences_are_ranked_most_important_first(base: dict[str, Any]) -> None:
    other = copy.deepcopy(base)
    other["platform"]["node"] = "elsewhere"
    other["environment"] = dict(other["environment"], OMP_NUM_THREADS="3")
    other["torch"]["version"] = "9.9.9"
    other["determinism"]["cudnn_benchmark"] = not base["determinism"]["cudnn_benchmark"]
    other["distributions"]["list"] = [*base["distributions"]["list"], "newpkg==1.0"]
    diffs = reprotorch.diff_manifests(base, other)
    assert [d.key for d in diffs] == [
        "determinism.cudnn_benchmark",
        "torch.version",
        "environment.OMP_NUM_THREADS",
        "distributions.packages.newpkg",
        "platform.node",
    ]
    assert [d.importance for d in diffs] == [Importance.HIGH, Importance.HIGH, Importance.MEDIUM,
                                             Importance.MEDIUM, Importance.LOW]
    env_diff = diffs[2]
    assert (env_diff.a, env_diff.b) == (base["environment"].get("OMP_NUM_THREADS"), "3")
    assert diffs[3].a is None and diffs[3].b == "1.0"
    assert diffs[1].to_dict() == {"key": "torch.version", "a": torch.__version__, "b": "9.9.9", "importance": "high"}
    assert str(diffs[1]) == f"torch.version: {torch.__version__!r} -> '9.9.9'"


def test_a_section_on_one_side_only_is_one_difference(base: dict[str, Any]) -> None:
    run = copy.deepcopy(base)
    run["run"] = {"command": ["python", "train.py"], "seed": 0, "exit_status": 0}
    (diff,) = reprotorch.diff_manifests(base, run)
    assert diff.key == "run" and diff.a is None and diff.importance == Importance.HIGH


def test_paths_and_dicts_are_accepted(base: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    write_manifest(path, base)
    assert reprotorch.diff_manifests(str(path), path) == []
    assert reprotorch.diff_manifests(base, path) == []


def test_bad_input_raises_clear_errors(base: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="must be a manifest dict or the path"):
        reprotorch.diff_manifests(base, 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a reprotorch manifest"):
        reprotorch.diff_manifests(base, {"format": "something.else"})
    newer = dict(base, version=FORMAT_VERSION + 1)
    with pytest.raises(ValueError, match="Upgrade reprotorch"):
        reprotorch.diff_manifests(base, newer)
    for bad in (0, -1, True, "1", None):
        with pytest.raises(ValueError, match=f"its 'version' is {bad!r}, expected an integer from 1"):
            reprotorch.diff_manifests(base, dict(base, version=bad))
    pickled = tmp_path / "m.pkl"
    pickled.write_bytes(pickle.dumps(base))
    with pytest.raises(ValueError, match="pickle"):
        reprotorch.diff_manifests(base, pickled)
    with pytest.raises(FileNotFoundError):
        reprotorch.diff_manifests(base, tmp_path / "missing.json")
    target = tmp_path / "keep.json"
    target.write_text("original")
    with pytest.raises(ValueError):
        write_manifest(target, {"format": "wrong"})
    assert target.read_text() == "original"  # bad input changes nothing


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                   cwd=cwd, check=True, capture_output=True)


def test_git_state_tells_commits_and_uncommitted_edits_apart(tmp_path: Path) -> None:
    assert git_state(tmp_path) is None  # not a work tree yet
    _git(tmp_path, "init", "-q")
    (tmp_path / "train.py").write_text("lr = 0.1\n")
    _git(tmp_path, "add", "train.py")
    _git(tmp_path, "commit", "-q", "-m", "first")
    clean = git_state(tmp_path)
    assert clean is not None and clean["dirty"] is False and len(clean["commit"]) == 40
    (tmp_path / "notes.txt").write_text("untracked")
    assert git_state(tmp_path)["dirty"] is False  # type: ignore[index]
    (tmp_path / "train.py").write_text("lr = 0.2\n")
    edit1 = git_state(tmp_path)
    (tmp_path / "train.py").write_text("lr = 0.3\n")
    edit2 = git_state(tmp_path)
    assert edit1 is not None and edit2 is not None
    assert edit1["dirty"] and edit1["modified_files"] == 1 and edit1["untracked_files"] == 1
    assert edit1["commit"] == clean["commit"]
    assert edit1["diff_hash"] != edit2["diff_hash"]  # both dirty, but not the same code


def test_difference_is_immutable() -> None:
    d = Difference("seed", 1, 2, Importance.HIGH)
    with pytest.raises(AttributeError):
        d.key = "other"  # type: ignore[misc]
