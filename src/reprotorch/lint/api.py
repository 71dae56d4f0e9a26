"""The Python API: ``check_source`` for text, ``check_paths`` for files and folders.

Parsing, ``# noqa`` handling, rule selection and positions live here; the
rules themselves are in ``checker.py``. Code is parsed, never imported or run.
"""

from __future__ import annotations

import ast
import os
import re
import tokenize
from collections.abc import Iterable, Sequence
from io import BytesIO
from pathlib import Path

from .checker import RawFinding, check_tree
from .config import LintConfig, find_pyproject, load_config
from .findings import Finding
from .names import collect_aliases
from .paths import discover
from .rules import RULES, SYNTAX_ERROR

__all__ = ["check_source", "check_paths", "check_files", "LintResult"]

_NOQA = re.compile(
    r"#\s*noqa(?:\s*:\s*(?P<codes>[A-Z]+[0-9]+(?:(?:\s*,\s*|\s+)[A-Z]+[0-9]+)*))?",
    re.IGNORECASE,
)


def _suppressed(line: str, code: str) -> bool:
    """Whether ``line`` carries ``# noqa`` (all codes) or ``# noqa: ...`` naming ``code``."""
    if "noqa" not in line.lower():
        return False
    for m in _NOQA.finditer(line):
        codes = m.group("codes")
        if codes is None:
            return True
        if code in {c.upper() for c in re.split(r"[\s,]+", codes) if c}:
            return True
    return False


def _char_col(line: str, byte_offset: int) -> int:
    """1-based character column from ast's 0-based UTF-8 byte offset."""
    if line.isascii():
        return byte_offset + 1
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", "replace")) + 1


def _syntax_finding(path: str, exc: BaseException, lines: Sequence[str]) -> Finding:
    rule = RULES[SYNTAX_ERROR]
    if isinstance(exc, SyntaxError):
        line = exc.lineno or 1
        col = exc.offset or 1
        message = f"syntax error: {exc.msg}"
    elif isinstance(exc, RecursionError):
        line, col, message = 1, 1, "the file is nested too deeply to be analysed"
    elif isinstance(exc, UnicodeDecodeError):
        line, col, message = 1, 1, f"cannot decode the file: {exc.reason}"
    else:
        line, col, message = 1, 1, f"cannot parse the file: {exc}"
    line = max(1, min(line, max(len(lines), 1)))
    return Finding(path, line, max(col, 1), SYNTAX_ERROR, message, rule.fix, rule.severity, line)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
        return data.decode(encoding)


def _lint_text(text: str, path: str, enabled: frozenset[str]) -> list[Finding]:
    lines = text.splitlines()
    try:
        tree = ast.parse(text, filename=path)
        raw: list[RawFinding] = check_tree(tree, collect_aliases(tree))
    except (SyntaxError, ValueError, RecursionError) as exc:
        return [_syntax_finding(path, exc, lines)]
    out: list[Finding] = []
    for r in raw:
        if r.code not in enabled:
            continue
        line = getattr(r.node, "lineno", 1)
        end_line = getattr(r.node, "end_lineno", None) or line
        src = lines[line - 1] if 0 < line <= len(lines) else ""
        if _suppressed(src, r.code):
            continue
        if end_line != line and 0 < end_line <= len(lines) and _suppressed(lines[end_line - 1],
                                                                          r.code):
            continue
        rule = RULES[r.code]
        col = _char_col(src, getattr(r.node, "col_offset", 0))
        out.append(Finding(path, line, col, r.code, r.message, r.fix or rule.fix,
                           rule.severity, end_line))
    out.sort()
    return out


def _enabled(select: Iterable[str] | None, ignore: Iterable[str] | None) -> frozenset[str]:
    return LintConfig().with_overrides(select=select, ignore=ignore).enabled


def check_source(text: str, filename: str = "<string>", *, select: Iterable[str] | None = None,
                 ignore: Iterable[str] | None = None) -> list[Finding]:
    """Lint Python source text; findings sorted by position.

    ``select``/``ignore`` take rule codes or prefixes (``["RPT002"]``,
    ``["RPT01"]``, ``["ALL"]``). ``# noqa: RPT###`` comments are honoured. A
    syntax error gives a single RPT000 finding. No pyproject.toml is read.
    """
    if not isinstance(text, str):
        raise TypeError(f"check_source() needs the source as str, got {type(text).__name__}; "
                        f"decode bytes first or use check_paths() for files")
    if not isinstance(filename, str):
        raise TypeError(f"filename must be a str, got {type(filename).__name__}")
    return _lint_text(text, filename, _enabled(select, ignore))


class LintResult(list[Finding]):
    """The findings of :func:`check_paths`, with ``files_checked``: how many files were read."""

    files_checked: int = 0


def check_files(files: Sequence[tuple[str, Path]], enabled: frozenset[str]) -> LintResult:
    """Lint already-discovered ``(display path, file)`` pairs."""
    result = LintResult()
    for display, file in files:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read {display}: {exc.strerror or exc}") from None
        try:
            text = _decode(data)
        except (UnicodeDecodeError, SyntaxError, LookupError) as exc:
            result.append(_syntax_finding(display, exc, []))
            continue
        result.extend(_lint_text(text, display, enabled))
    result.files_checked = len(files)
    result.sort()
    return result


def check_paths(paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str], *,
                select: Iterable[str] | None = None, ignore: Iterable[str] | None = None,
                exclude: Iterable[str] | None = None,
                config: LintConfig | str | os.PathLike[str] | bool | None = None) -> LintResult:
    """Lint files and folders (``*.py`` below folders, honouring ``.gitignore`` in git).

    ``config``: None/True finds the nearest pyproject.toml above the first
    path (``[tool.reprotorch.lint]``); a path reads that file; False or a
    :class:`LintConfig` skips discovery. ``select`` replaces the configured
    selection, ``ignore`` and ``exclude`` add to it. Returns the sorted
    findings (a list with ``files_checked``). Raises ``FileNotFoundError`` for a
    missing path, ``ValueError`` for bad configuration or codes.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    path_list = list(paths)
    for p in path_list:
        if not isinstance(p, (str, os.PathLike)):
            raise TypeError(f"paths must be str or os.PathLike, got {p!r} ({type(p).__name__})")
    if not path_list:
        raise ValueError("check_paths() got no paths; pass files or folders, e.g. ['.']")
    if isinstance(config, LintConfig):
        cfg = config
    elif config is False:
        cfg = LintConfig()
    elif config is None or config is True:
        cfg = load_config(find_pyproject(path_list[0]))
    elif isinstance(config, (str, os.PathLike)):
        cfg = load_config(config)
    else:
        raise TypeError(f"config must be a LintConfig, a path, a bool or None, got "
                        f"{type(config).__name__}")
    cfg = cfg.with_overrides(select=select, ignore=ignore, exclude=exclude)
    files = discover(path_list, exclude=cfg.exclude, base=cfg.base)
    return check_files(files, cfg.enabled)
