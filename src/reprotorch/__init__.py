"""reprotorch: make PyTorch training bit-reproducible, prove it, and explain it when it is not.

The public API is what this module exports; submodules are implementation
detail unless documented (``reprotorch.data``, ``reprotorch.sources``).
"""

from __future__ import annotations

__version__ = "0.1.0"

from .determinism import (
    DeterminismReport,
    DeterminismSettings,
    determinism_report,
    deterministic,
    set_deterministic,
)
from .distributed import init_random_seed, set_random_seed, sync_seed
from .errors import ReproducibilityError, SeedMismatchError, StateMismatchError
from .fingerprint import fingerprint
from .manifest import diff_manifests, manifest
from .seeding import derive_seed, seed_everything
from .sources import RandomSource, register_source, unregister_source
from .state import (
    RNGState,
    capture_rng_state,
    isolate_rng,
    register_generator,
    restore_rng_state,
    unregister_generator,
)
from .tracing import Divergence, Tracer, compare_traces, load_trace, trace

__all__ = [
    "__version__",
    "seed_everything",
    "derive_seed",
    "set_deterministic",
    "deterministic",
    "determinism_report",
    "DeterminismSettings",
    "DeterminismReport",
    "init_random_seed",
    "set_random_seed",
    "sync_seed",
    "capture_rng_state",
    "restore_rng_state",
    "isolate_rng",
    "RNGState",
    "register_generator",
    "unregister_generator",
    "register_source",
    "unregister_source",
    "RandomSource",
    "ReproducibilityError",
    "StateMismatchError",
    "SeedMismatchError",
    "manifest",
    "diff_manifests",
    "fingerprint",
    "Tracer",
    "trace",
    "load_trace",
    "compare_traces",
    "Divergence",
]
