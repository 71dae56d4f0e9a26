"""Start a command with reprotorch's bootstrap injected into every Python process it runs.

Some controls only work from outside the process: ``PYTHONHASHSEED`` is read
once, when the interpreter starts (setting it inside, as some frameworks do, has
no effect on that interpreter), and ``CUBLAS_WORKSPACE_CONFIG`` must be in place
before the first cuBLAS call. So ``reprotorch run`` sets them in the
environment and puts :data:`BOOT_DIR` first on ``PYTHONPATH``; its
``sitecustomize.py`` then seeds, applies determinism and installs the tracer in
each Python process, before the program's first line (see that file).

This module holds the parent's side: building the child's environment and
finding the program. It imports neither torch nor NumPy.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "BOOT_DIR",
    "BOOT_VARS",
    "LaunchSettings",
    "child_environment",
    "resolve_program",
    "ProgramNotFound",
]

BOOT_DIR = str(Path(__file__).resolve().parent / "boot")
_PKG_DIR = str(Path(__file__).resolve().parents[2])

SEED_VAR = "REPROTORCH_BOOT_SEED"
DETERMINISTIC_VAR = "REPROTORCH_BOOT_DETERMINISTIC"
THREADS_VAR = "REPROTORCH_BOOT_THREADS"
TRACE_VAR = "REPROTORCH_BOOT_TRACE"
REPORT_VAR = "REPROTORCH_BOOT_REPORT"
PKG_VAR = "REPROTORCH_BOOT_PKG"
BOOT_VARS = (SEED_VAR, DETERMINISTIC_VAR, THREADS_VAR, TRACE_VAR, REPORT_VAR, PKG_VAR)

_CUBLAS_VAR = "CUBLAS_WORKSPACE_CONFIG"
_CUBLAS_DETERMINISTIC = (":4096:8", ":16:8")


@dataclass(frozen=True)
class LaunchSettings:
    """What the bootstrap should do in every Python process of the command.

    ``hashseed`` overrides ``PYTHONHASHSEED`` (``check --vary hashseed``);
    ``threads`` sets the intra-op thread count (``check --vary threads``).
    """

    seed: int | None = None
    deterministic: bool | Literal["warn"] = False
    trace: str | None = None
    report_dir: str | None = None
    threads: int | None = None
    hashseed: int | None = None

    @property
    def needs_boot(self) -> bool:
        """Whether anything has to happen inside the command's processes."""
        return bool(
            self.seed is not None
            or self.deterministic
            or self.trace
            or self.report_dir
            or self.threads
        )


def child_environment(settings: LaunchSettings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment to start the command with.

    Without a seed nothing about seeding changes; with ``seed=N``,
    ``PYTHONHASHSEED=N`` and ``REPROTORCH_SEED=N`` are exported (so also
    non-Python children and code calling ``seed_everything()`` see the seed).
    Settings of an enclosing ``reprotorch run`` are dropped first, so nested
    launches do not mix.
    """
    env = dict(os.environ if base is None else base)
    for var in BOOT_VARS:
        env.pop(var, None)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != BOOT_DIR]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    else:
        env.pop("PYTHONPATH", None)

    if settings.seed is not None:
        env["REPROTORCH_SEED"] = str(settings.seed)
        env["PYTHONHASHSEED"] = str(settings.seed)
        env[SEED_VAR] = str(settings.seed)
    if settings.hashseed is not None:
        env["PYTHONHASHSEED"] = str(settings.hashseed)
    if settings.deterministic:
        env[DETERMINISTIC_VAR] = "warn" if settings.deterministic == "warn" else "1"
        if env.get(_CUBLAS_VAR) not in _CUBLAS_DETERMINISTIC:
            env[_CUBLAS_VAR] = _CUBLAS_DETERMINISTIC[0]
    if settings.threads is not None:
        env[THREADS_VAR] = str(settings.threads)
        # torch reads OMP_NUM_THREADS at start-up; MKL has its own pool.
        env["OMP_NUM_THREADS"] = str(settings.threads)
        env["MKL_NUM_THREADS"] = str(settings.threads)
    if settings.trace:
        env[TRACE_VAR] = settings.trace
    if settings.report_dir:
        env[REPORT_VAR] = settings.report_dir
    if settings.needs_boot:
        env[PKG_VAR] = _PKG_DIR
        env["PYTHONPATH"] = os.pathsep.join([BOOT_DIR, *paths])
    return env


class ProgramNotFound(Exception):
    """The command's program does not exist or cannot be executed (exit status 127 or 126)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def resolve_program(command: Sequence[str], env: Mapping[str, str]) -> str:
    """The executable ``command[0]`` names, looked up on the child's ``PATH`` as a shell would.

    Raises :class:`ProgramNotFound` with status 127 (not found) or 126 (found but
    not executable), the statuses a shell uses.
    """
    program = command[0]
    if os.sep in program or (os.altsep and os.altsep in program):
        if not os.path.exists(program):
            raise ProgramNotFound(f"{program}: no such file", 127)
        if os.path.isdir(program) or not os.access(program, os.X_OK):
            raise ProgramNotFound(f"{program}: permission denied (not an executable file)", 126)
        return program
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise ProgramNotFound(f"{program}: command not found", 127)
    return found
