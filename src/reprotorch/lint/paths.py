"""Which files ``reprotorch lint`` reads: named files, and ``*.py`` under named folders.

Inside a git work tree the folder's files come from git itself
(``git ls-files --cached --others --exclude-standard``), so ``.gitignore``,
``.git/info/exclude`` and the global excludes file are honoured exactly as git
reads them, with no new dependency and no gitignore re-implementation. Outside
git (or without a ``git`` executable) the folder is walked. Either way the
usual virtual-environment and build folders and the configured ``exclude``
patterns are skipped. A file named explicitly is always checked.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

__all__ = ["DEFAULT_EXCLUDES", "discover", "is_excluded"]

#: Folder and file names never descended into below a named folder.
DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "__pycache__", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".eggs", "*.egg-info", "build", "dist", "node_modules",
    "site-packages", "__pypackages__",
)


def is_excluded(relative: str, patterns: Iterable[str]) -> bool:
    """Whether a POSIX relative path matches a pattern.

    A pattern without ``/`` matches any single path component (``build``,
    ``*.egg-info``, ``test_*.py``); a pattern with ``/`` matches the path or
    any of its parent folders (``tests/lint_corpus``, ``src/*/generated``).
    """
    parts = PurePosixPath(relative).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        pattern = pattern.strip("/")
        if pattern.startswith("./"):
            pattern = pattern[2:]
        if "/" in pattern:
            if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes):
                return True
        elif any(fnmatch.fnmatchcase(part, pattern) for part in parts):
            return True
    return False


def _git_files(directory: Path) -> list[str] | None:
    """Files under ``directory`` that git does not ignore (relative), or None outside git."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(directory), "ls-files", "-z", "--cached", "--others",
             "--exclude-standard", "--", "."],
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    names = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    return [n for n in names if n]


def _walk_files(directory: Path) -> list[str]:
    out: list[str] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not is_excluded(d, DEFAULT_EXCLUDES))
        rel_root = os.path.relpath(root, directory)
        for f in sorted(files):
            out.append(f if rel_root == "." else os.path.join(rel_root, f).replace(os.sep, "/"))
    return out


def _relative_to_base(path: Path, base: Path) -> str | None:
    try:
        return path.resolve().relative_to(base).as_posix()
    except ValueError:
        return None


def discover(paths: Sequence[str | os.PathLike[str]], *, exclude: Sequence[str] = (),
             base: Path | None = None, use_git: bool = True) -> list[tuple[str, Path]]:
    """``(display path, file)`` for every file to check, sorted, without duplicates.

    ``exclude`` patterns are matched against paths relative to ``base``
    (default: the current directory) and apply to files found in folders.
    Raises ``FileNotFoundError`` for a path that does not exist.
    """
    base = (base or Path.cwd()).resolve()
    found: dict[Path, str] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(f"no such file or directory: {os.fspath(raw)!r}")
        if path.is_file():
            found.setdefault(path.resolve(), os.fspath(raw))
            continue
        names = _git_files(path) if use_git else None
        if names is None:
            names = _walk_files(path)
        for name in names:
            if not name.endswith(".py") or is_excluded(name, DEFAULT_EXCLUDES):
                continue
            file = path / name
            if exclude:
                rel = _relative_to_base(file, base)
                if rel is not None and is_excluded(rel, exclude):
                    continue
            if not file.is_file():  # deleted from the work tree but still in git's index
                continue
            display = os.path.normpath(os.path.join(os.fspath(raw), name))
            found.setdefault(file.resolve(), display)
    return sorted(((display, file) for file, display in found.items()), key=lambda t: t[0])
