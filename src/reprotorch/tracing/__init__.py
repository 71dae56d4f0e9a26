"""Per-step training traces and first-divergence reports.

:class:`Tracer` / :func:`trace` record fingerprints of what a training run
computes (``recorder``), in a documented JSON Lines format (``format``);
:func:`compare_traces` aligns two traces and names their first
:class:`Divergence` (``compare``).

The package is called ``tracing`` so that it does not shadow the function
``reprotorch.trace``.
"""

from __future__ import annotations

from .compare import DIVERGENCE_PHASES, Divergence, compare_traces
from .format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    PHASES,
    RECORD_CHOICES,
    Trace,
    find_rank_traces,
    load_trace,
    trace_path_for_rank,
)
from .recorder import DEFAULT_RECORD, Tracer, trace

__all__ = [
    "Tracer",
    "trace",
    "load_trace",
    "compare_traces",
    "Divergence",
    "Trace",
    "trace_path_for_rank",
    "find_rank_traces",
    "DEFAULT_RECORD",
    "DIVERGENCE_PHASES",
    "PHASES",
    "RECORD_CHOICES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
]
