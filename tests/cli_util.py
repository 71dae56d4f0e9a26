"""Running the real ``reprotorch`` command line in a subprocess, as the CLI tests do."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PY = sys.executable


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without anything that would seed or boot the child."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REPROTORCH_") and k not in ("PYTHONHASHSEED", "PYTHONPATH")
    }
    env["OMP_NUM_THREADS"] = "1"
    env.update(extra)
    return env


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``python -m reprotorch ARGS`` with captured text output."""
    return subprocess.run(
        [PY, "-m", "reprotorch", *args], cwd=cwd, env=env or clean_env(),
        capture_output=True, text=True, timeout=timeout,
    )


def write(tmp_path: Path, name: str, source: str) -> Path:
    """Write a dedented script into ``tmp_path``."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command; fails the test on a traceback or several lines."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]
