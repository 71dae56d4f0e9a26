"""Render findings: ``text`` for people (like ruff), ``json`` for tools, ``github`` for CI."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from .findings import SEVERITIES, Finding

__all__ = ["render", "FORMATS"]

FORMATS = ("text", "json", "github")
_GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def _summary(findings: Sequence[Finding], files_checked: int) -> str:
    if not findings:
        return f"All checks passed ({files_checked} file{'s' if files_checked != 1 else ''})."
    by_severity = Counter(f.severity for f in findings)
    parts = [f"{by_severity[s]} {s}" for s in SEVERITIES if by_severity[s]]
    files = len({f.path for f in findings})
    n = len(findings)
    return (f"Found {n} problem{'s' if n != 1 else ''} ({', '.join(parts)}) in {files} of "
            f"{files_checked} file{'s' if files_checked != 1 else ''}.")


def render_text(findings: Sequence[Finding], files_checked: int) -> str:
    """``path:line:col: CODE message`` then an indented ``fix:`` line, then a summary."""
    lines = []
    for f in findings:
        lines.append(f"{f.path}:{f.line}:{f.col}: {f.code} [{f.severity}] {f.message}")
        lines.append(f"    fix: {f.fix}")
    lines.append(_summary(findings, files_checked))
    return "\n".join(lines) + "\n"


def render_json(findings: Sequence[Finding], files_checked: int) -> str:
    """A versioned JSON document: ``{"version": 1, "files_checked": N, "findings": [...]}``."""
    document = {
        "version": 1,
        "files_checked": files_checked,
        "findings": [f.to_dict() for f in findings],
    }
    return json.dumps(document, indent=1) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(findings: Sequence[Finding], files_checked: int) -> str:
    """GitHub Actions workflow commands (``::warning file=...,line=...::message``)."""
    lines = []
    for f in findings:
        props = (f"file={_escape_property(f.path)},line={f.line},endLine={f.end_line or f.line},"
                 f"col={f.col},title={_escape_property(f.code)}")
        body = _escape_data(f"{f.code} {f.message}. Fix: {f.fix}")
        lines.append(f"::{_GITHUB_LEVEL[f.severity]} {props}::{body}")
    return "\n".join(lines) + ("\n" if lines else "")


def render(fmt: str, findings: Sequence[Finding], files_checked: int) -> str:
    """Render in one of :data:`FORMATS`."""
    if fmt == "text":
        return render_text(findings, files_checked)
    if fmt == "json":
        return render_json(findings, files_checked)
    if fmt == "github":
        return render_github(findings, files_checked)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
