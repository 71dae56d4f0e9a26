"""Exceptions raised when reproducibility cannot be guaranteed."""

from __future__ import annotations

__all__ = ["ReproducibilityError", "StateMismatchError", "SeedMismatchError"]


class ReproducibilityError(RuntimeError):
    """Base class for violations of reproducibility detected at run time."""


class StateMismatchError(ValueError):
    """A saved state does not fit this process (missing source, other device count or world size).

    Raised by strict restores; a ``ValueError`` because the state is a bad value for this process.
    """


class SeedMismatchError(ReproducibilityError):
    """Ranks of a distributed job hold different seeds; the message names the ranks and values."""
