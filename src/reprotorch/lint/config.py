"""``[tool.reprotorch.lint]`` in ``pyproject.toml``: ``select``, ``ignore``, ``exclude``.

The linter must run on broken environments, so it adds no dependency: on
Python 3.11+ the file is read with the standard ``tomllib``; on 3.10 (no
``tomllib``, and ``tomli`` is not a dependency) a minimal reader extracts just
this one table when it is written as a ``[tool.reprotorch.lint]`` header with
string or string-array values -- the only shapes these keys take. Anything it
cannot read is reported as a clear error rather than silently ignored.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .rules import RULES, resolve_codes

__all__ = ["LintConfig", "find_pyproject", "load_config", "parse_table_minimal"]

_KEYS = ("select", "ignore", "exclude")
_TABLE = ("tool", "reprotorch", "lint")


@dataclass(frozen=True)
class LintConfig:
    """Which rules run and which discovered files are skipped.

    ``exclude`` holds glob patterns matched against paths relative to
    ``base`` (the directory of the pyproject.toml it came from, else the
    current directory). ``source`` is that file, or None for defaults.
    """

    select: frozenset[str] = field(default_factory=lambda: frozenset(RULES))
    ignore: frozenset[str] = frozenset()
    exclude: tuple[str, ...] = ()
    base: Path = field(default_factory=Path.cwd)
    source: Path | None = None

    @property
    def enabled(self) -> frozenset[str]:
        """The codes reported: selected and not ignored (RPT000 is always reported)."""
        return (self.select - self.ignore) | {"RPT000"}

    def with_overrides(self, *, select: Iterable[str] | None = None,
                       ignore: Iterable[str] | None = None,
                       exclude: Iterable[str] | None = None) -> LintConfig:
        """A copy where ``select`` replaces, and ``ignore``/``exclude`` extend, this config."""
        new_select = self.select if select is None else resolve_codes(select, option="select")
        new_ignore = self.ignore if ignore is None else self.ignore | resolve_codes(
            ignore, option="ignore")
        new_exclude = self.exclude if exclude is None else self.exclude + _patterns(
            exclude, "exclude")
        return LintConfig(new_select, new_ignore, new_exclude, self.base, self.source)


def find_pyproject(start: str | os.PathLike[str]) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` (a file or directory)."""
    here = Path(start).resolve()
    if not here.is_dir():
        here = here.parent
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(pyproject: str | os.PathLike[str] | None) -> LintConfig:
    """Read ``[tool.reprotorch.lint]`` from ``pyproject`` (None: defaults based in the cwd).

    Raises ``ValueError`` naming the file for unknown keys, unknown rule codes
    or values of the wrong shape, so a typo never silently disables a rule.
    """
    if pyproject is None:
        return LintConfig()
    path = Path(pyproject)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    table = _read_table(text, path)
    base = path.resolve().parent
    if table is None:
        return LintConfig(base=base, source=path)
    if not isinstance(table, dict):
        raise ValueError(f"{path}: [tool.reprotorch.lint] must be a table")
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(map(repr, unknown))} in "
                         f"[tool.reprotorch.lint]; expected {', '.join(_KEYS)}")
    where = f"{path} [tool.reprotorch.lint]"
    select = resolve_codes(_strings(table["select"], f"{where} select"),
                           option=f"{where} select") if "select" in table else frozenset(RULES)
    ignore = resolve_codes(_strings(table["ignore"], f"{where} ignore"),
                           option=f"{where} ignore") if "ignore" in table else frozenset()
    exclude = _patterns(table.get("exclude", ()), f"{where} exclude")
    return LintConfig(select, ignore, exclude, base, path)


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{where} must be an array of strings, got {value!r}")
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"{where} must contain strings, got {item!r}")
    return list(value)


def _patterns(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(f"{where} must be a list of glob patterns, got the string {value!r}")
    return tuple(p.strip().rstrip("/") for p in _strings(value, where) if p.strip())


def _read_table(text: str, path: Path) -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        return parse_table_minimal(text, path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
    node: Any = document
    for part in _TABLE:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+|\"[^\"]*\")\s*=\s*(.*)$")


def parse_table_minimal(text: str, path: str | os.PathLike[str] = "pyproject.toml") -> Any:
    """Extract ``[tool.reprotorch.lint]`` without a TOML library (the Python 3.10 fallback).

    Supports the table written as a header, with keys whose values are basic
    or literal strings or (multi-line) arrays of them, and ``#`` comments.
    Returns None when the table is absent; raises ``ValueError`` for a value
    it cannot read.
    """
    lines = text.splitlines()
    table: dict[str, Any] | None = None
    current = False
    i = 0
    while i < len(lines):
        line = lines[i]
        header = _HEADER.match(line)
        if header:
            name = tuple(p.strip().strip('"') for p in header.group(1).split("."))
            if name == _TABLE:
                if table is not None:
                    raise ValueError(f"{path}: [tool.reprotorch.lint] appears twice")
                table = {}
                current = True
            else:
                current = False
            i += 1
            continue
        if table is None or not current or not line.strip() or line.lstrip().startswith("#"):
            i += 1
            continue
        m = _KEY.match(line)
        if not m:
            raise ValueError(f"{path}:{i + 1}: cannot read {line.strip()!r} in "
                             f"[tool.reprotorch.lint] (Python 3.10 reader: use key = [\"...\"])")
        key = m.group(1).strip('"')
        value = _strip_comment(m.group(2))
        start = i
        while value.count("[") > value.count("]") and i + 1 < len(lines):
            i += 1
            value += " " + _strip_comment(lines[i])
        try:
            parsed = ast.literal_eval(_toml_strings_to_python(value))
        except (ValueError, SyntaxError):
            raise ValueError(f"{path}:{start + 1}: cannot read the value of {key!r} in "
                             f"[tool.reprotorch.lint] (Python 3.10 reader: use strings or "
                             f"arrays of strings)") from None
        table[key] = parsed
        i += 1
    return table


def _strip_comment(fragment: str) -> str:
    """Drop a trailing ``#`` comment that is not inside a string."""
    quote = ""
    for j, ch in enumerate(fragment):
        if quote:
            if ch == "\\" and quote == '"':
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return fragment[:j].strip()
    return fragment.strip()


def _toml_strings_to_python(value: str) -> str:
    """Make TOML literal strings ('C:\\x', no escapes) safe for ``ast.literal_eval``."""
    out = []
    j = 0
    while j < len(value):
        ch = value[j]
        if ch == "'":
            end = value.index("'", j + 1) if "'" in value[j + 1:] else -1
            if end < 0:
                raise ValueError("unterminated string")
            out.append(repr(value[j + 1:end]))
            j = end + 1
        elif ch == '"':
            k = j + 1
            while k < len(value) and value[k] != '"':
                k += 2 if value[k] == "\\" else 1
            out.append(value[j:k + 1])
            j = k + 1
        else:
            out.append(ch)
            j += 1
    return "".join(out)
