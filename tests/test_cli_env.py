"""``reprotorch env``: the manifest of this machine and process, as a table and as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from reprotorch.manifest import diff_manifests, load_manifest

PY = sys.executable


def env_of(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REPROTORCH_") and k not in ("PYTHONHASHSEED", "PYTHONPATH", "CUBLAS_WORKSPACE_CONFIG")
    }
    env.update(extra)
    return env


def test_env_table_and_json_describe_the_same_process(tmp_path: Path) -> None:
    env = env_of(PYTHONHASHSEED="7", CUBLAS_WORKSPACE_CONFIG=":16:8", NCCL_ALGO="Ring", OMP_NUM_THREADS="1")
    table = subprocess.run([PY, "-m", "reprotorch", "env"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    as_json = subprocess.run([PY, "-m", "reprotorch", "env", "--json"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    assert table.returncode == 0 and as_json.returncode == 0, table.stderr + as_json.stderr

    rows = {}
    for line in table.stdout.splitlines():
        key, _, value = line.partition("  ")
        rows[key.strip()] = value.strip()
    assert rows["python"].startswith(sys.version.split()[0])
    assert rows["torch"] == torch.__version__
    assert rows["PYTHONHASHSEED at start-up"] == "7"
    assert rows["PYTHONHASHSEED"] == "7"
    assert rows["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    assert rows["CUDA_VISIBLE_DEVICES"] == "(unset)"  # shown even when unset
    assert rows["NCCL_ALGO"] == "Ring"
    assert rows["torch intra-op threads"] == "1"  # from OMP_NUM_THREADS
    assert rows["working directory"] == "not in a git work tree"
    for control in ("cudnn_deterministic", "cudnn_benchmark", "deterministic_algorithms", "matmul_allow_tf32"):
        assert control in rows

    path = tmp_path / "env.json"
    path.write_text(as_json.stdout)
    doc = load_manifest(path)  # the same document a manifest file holds
    assert doc["environment"]["PYTHONHASHSEED"] == "7"
    assert doc["python"]["hashseed_at_startup"] == "7"
    assert doc["torch"]["version"] == torch.__version__
    assert doc["git"] is None
    assert f"torch=={torch.__version__}" in doc["distributions"]["list"]
    assert rows["installed"].startswith(f"{doc['distributions']['count']} (hash {doc['distributions']['hash']})")
    assert diff_manifests(doc, json.loads(as_json.stdout)) == []
