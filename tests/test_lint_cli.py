"""``reprotorch lint`` as users run it: a real subprocess, exit codes and output formats."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HAZARDS = """\
import os
import torch
import torch.nn.functional as F

torch.backends.cudnn.benchmark = True
files = os.listdir("data")
first = files[0]
y = F.grid_sample(x, grid)
"""


def lint(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reprotorch", "lint", *args], cwd=cwd,
                          capture_output=True, text=True, input=stdin, timeout=120)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "train.py").write_text(HAZARDS)
    (tmp_path / "clean.py").write_text("import os\nfiles = sorted(os.listdir('d'))\n")
    return tmp_path


def test_text_output_and_exit_status(project: Path) -> None:
    out = lint("train.py", cwd=project)
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == ("train.py:5:1: RPT003 [error] cudnn.benchmark = True picks convolution "
                        "algorithms by timing, which differs between runs")
    assert lines[1].startswith("    fix: ")
    assert lines[2].startswith("train.py:6:9: RPT002 [warning] os.listdir() returns entries")
    assert lines[4].startswith("train.py:8:5: RPT012 [info] grid_sample backward")
    assert lines[-1] == "Found 3 problems (1 error, 1 warning, 1 info) in 1 of 1 file."
    clean = lint("clean.py", cwd=project)
    assert (clean.returncode, clean.stdout) == (0, "All checks passed (1 file).\n")
    assert lint("train.py", "--exit-zero", cwd=project).returncode == 0
    assert lint("train.py", "--ignore", "RPT002,RPT003,RPT012", cwd=project).returncode == 0


def test_json_output(project: Path) -> None:
    out = lint("--format", "json", ".", cwd=project)
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert doc["version"] == 1 and doc["files_checked"] == 2
    assert [(f["path"], f["line"], f["code"], f["severity"]) for f in doc["findings"]] == [
        ("train.py", 5, "RPT003", "error"), ("train.py", 6, "RPT002", "warning"),
        ("train.py", 8, "RPT012", "info")]
    assert all(f["fix"] and f["message"] for f in doc["findings"])


def test_github_output(project: Path) -> None:
    out = lint("--format=github", "--select", "RPT003,RPT012", "train.py", cwd=project)
    assert out.returncode == 1, out.stderr
    first, second = out.stdout.splitlines()
    assert first.startswith("::error file=train.py,line=5,endLine=5,col=1,title=RPT003::RPT003 ")
    assert second.startswith("::notice file=train.py,line=8,")
    assert "Fix: " in first


def test_syntax_error_is_reported_and_other_files_still_checked(project: Path) -> None:
    (project / "broken.py").write_text("def f(:\n")
    out = lint(".", "--format", "json", cwd=project)
    codes = [(f["path"], f["code"]) for f in json.loads(out.stdout)["findings"]]
    assert ("broken.py", "RPT000") in codes and ("train.py", "RPT003") in codes
    assert out.returncode == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--select", "RPT999", "train.py"], "unknown rule code 'RPT999'"),
        (["missing.py"], "no such file or directory: 'missing.py'"),
        (["--format", "xml", "train.py"], "invalid choice: 'xml'"),
        (["--config", "nope.toml", "train.py"], "--config: no such file"),
        (["--explain", "RPT77"], "unknown rule code 'RPT77'"),
        (["-", "train.py"], "cannot be combined"),
    ],
)
def test_usage_errors_exit_2_with_one_line(project: Path, args: list[str], message: str) -> None:
    out = lint(*args, cwd=project)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


def test_empty_selection_warns_but_passes(project: Path) -> None:
    (project / "empty").mkdir()
    out = lint("empty", cwd=project)
    assert out.returncode == 0
    assert out.stdout == "All checks passed (0 files).\n"
    assert "no Python files to check under empty" in out.stderr


def test_bad_pyproject_is_a_usage_error(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.reprotorch.lint]\nselect = ['RPT1234']\n")
    out = lint("train.py", cwd=project)
    assert out.returncode == 2 and "pyproject.toml" in out.stderr
    assert lint("--isolated", "train.py", cwd=project).returncode == 1


def test_stdin_and_explain(project: Path) -> None:
    out = lint("-", "--stdin-filename", "cell.py", cwd=project,
               stdin="import numpy as np\nrng = np.random.default_rng()\n")
    assert out.returncode == 1
    assert out.stdout.startswith("cell.py:2:7: RPT004 [error]")
    explained = lint("--explain", "rpt006", cwd=project)
    assert explained.returncode == 0
    assert explained.stdout.startswith("RPT006 seed-arithmetic (warning)")
    assert "Wrong:" in explained.stdout and "derive_seed" in explained.stdout
