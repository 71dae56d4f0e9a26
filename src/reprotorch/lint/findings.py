"""What the linter reports: one :class:`Finding` per hazard, ordered like a compiler's output.

Kept free of any analysis code so that reporters, the command line and callers
of the Python API depend on this small module only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Finding", "Severity", "SEVERITIES"]

Severity = Literal["error", "warning", "info"]

#: Severities from the most to the least serious.
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True, order=True)
class Finding:
    """One randomness hazard at a place in a file.

    ``line`` and ``col`` are 1-based, ``col`` counts characters (not bytes),
    like ruff and most editors. ``end_line`` is the last line of the flagged
    expression; a ``# noqa`` comment is honoured on ``line`` or ``end_line``.
    Ordering is (path, line, col, code), so ``sorted(findings)`` reads top to
    bottom.
    """

    path: str
    line: int
    col: int
    code: str
    message: str
    fix: str
    severity: Severity
    end_line: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the record of ``reprotorch lint --format json``)."""
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "end_line": self.end_line or self.line,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
        }

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"
