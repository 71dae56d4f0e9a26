"""One switch for PyTorch's determinism controls, and a report of where they stand.

Seeds make random numbers repeat; they do nothing for kernels that add floats in
a different order on each run (cuDNN autotuning, atomics in scatter/index_add
backward passes, cuBLAS split-K reductions, TF32). This module turns all of
those controls at once, remembers what they were, and says which controls can
no longer take effect in this process.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "DeterminismSettings",
    "DeterminismReport",
    "Control",
    "set_deterministic",
    "deterministic",
    "determinism_report",
    "startup_environ",
]

CUBLAS_ENV = "CUBLAS_WORKSPACE_CONFIG"
CUBLAS_DETERMINISTIC_VALUES = (":4096:8", ":16:8")
_CUBLAS_DEFAULT = ":4096:8"

_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _read_startup_environ() -> dict[str, str] | None:
    """The environment this interpreter was started with, independent of later ``os.environ`` edits."""
    try:
        with open("/proc/self/environ", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        if b"=" in item:
            k, _, v = item.partition(b"=")
            env[k.decode("utf-8", "replace")] = v.decode("utf-8", "replace")
    return env


# Read once at import. Where /proc is missing (macOS, Windows) fall back to the
# environment as it is when reprotorch is first imported: right unless the
# program edited os.environ before that import.
_STARTUP_ENV: dict[str, str] = _read_startup_environ() or dict(os.environ)


def startup_environ() -> dict[str, str]:
    """A copy of the environment this interpreter started with."""
    return dict(_STARTUP_ENV)


def hashseed_at_startup() -> str | None:
    """The PYTHONHASHSEED this interpreter uses, from its start-up environment.

    ``None`` if it was unset or 'random', and also when the interpreter runs with
    ``-E`` or ``-I``: those ignore every ``PYTHON*`` variable, so a PYTHONHASHSEED
    in the environment then has no effect and string hashes are randomised.
    """
    if sys.flags.ignore_environment:
        return None
    value = _STARTUP_ENV.get("PYTHONHASHSEED")
    if value is None or value == "random":
        return None
    return value


@dataclass
class DeterminismSettings:
    """A snapshot of every determinism control; :meth:`apply` puts the snapshot back."""

    cudnn_deterministic: bool
    cudnn_benchmark: bool
    deterministic_algorithms: bool
    deterministic_algorithms_warn_only: bool
    fill_uninitialized_memory: bool
    matmul_allow_tf32: bool
    cudnn_allow_tf32: bool
    cublas_workspace_config: str | None

    @classmethod
    def capture(cls) -> DeterminismSettings:
        """The controls as they are now."""
        import torch

        return cls(
            cudnn_deterministic=bool(torch.backends.cudnn.deterministic),
            cudnn_benchmark=bool(torch.backends.cudnn.benchmark),
            deterministic_algorithms=bool(torch.are_deterministic_algorithms_enabled()),
            deterministic_algorithms_warn_only=bool(
                torch.is_deterministic_algorithms_warn_only_enabled()
            ),
            fill_uninitialized_memory=bool(torch.utils.deterministic.fill_uninitialized_memory),  # type: ignore[attr-defined]
            matmul_allow_tf32=bool(torch.backends.cuda.matmul.allow_tf32),
            cudnn_allow_tf32=bool(torch.backends.cudnn.allow_tf32),
            cublas_workspace_config=os.environ.get(CUBLAS_ENV),
        )

    def apply(self) -> None:
        """Set every control to this snapshot (the environment variable included)."""
        import torch

        torch.backends.cudnn.deterministic = self.cudnn_deterministic
        torch.backends.cudnn.benchmark = self.cudnn_benchmark
        torch.use_deterministic_algorithms(
            self.deterministic_algorithms, warn_only=self.deterministic_algorithms_warn_only
        )
        torch.utils.deterministic.fill_uninitialized_memory = self.fill_uninitialized_memory  # type: ignore[attr-defined]
        torch.backends.cuda.matmul.allow_tf32 = self.matmul_allow_tf32
        torch.backends.cudnn.allow_tf32 = self.cudnn_allow_tf32
        if self.cublas_workspace_config is None:
            os.environ.pop(CUBLAS_ENV, None)
        else:
            os.environ[CUBLAS_ENV] = self.cublas_workspace_config
        _forget_cublas_before_unless_ours()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def _pytorch_defaults(cublas: str | None) -> DeterminismSettings:
    return DeterminismSettings(
        cudnn_deterministic=False,
        cudnn_benchmark=False,
        deterministic_algorithms=False,
        deterministic_algorithms_warn_only=False,
        fill_uninitialized_memory=True,
        matmul_allow_tf32=False,
        cudnn_allow_tf32=True,
        cublas_workspace_config=cublas,
    )


# What CUBLAS_WORKSPACE_CONFIG was before set_deterministic replaced it, so that
# turning the mode off leaves the variable as the user had it. The record is only
# meaningful while the variable still holds the value reprotorch wrote: once
# something else is written (leaving deterministic(), prev.apply(), the user), it
# describes a past that no longer applies and is forgotten.
_UNSET = object()
_cublas_before: Any = _UNSET


def _forget_cublas_before_unless_ours() -> None:
    global _cublas_before
    if os.environ.get(CUBLAS_ENV) != _CUBLAS_DEFAULT:
        _cublas_before = _UNSET


def _cuda_initialized() -> bool:
    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())


def set_deterministic(mode: bool | Literal["warn"] = True) -> DeterminismSettings:
    """Turn every determinism control on (``True`` / ``"warn"``) or back to PyTorch's defaults (``False``).

    Returns the settings as they were, so ``prev.apply()`` undoes the call.
    ``"warn"`` makes nondeterministic kernels warn instead of raise. Warns once
    about controls that can no longer take effect in this process.
    """
    global _cublas_before
    if mode not in (True, False, "warn"):
        raise ValueError(f"mode must be True, False or 'warn', got {mode!r}")
    _forget_cublas_before_unless_ours()  # the user may have set the variable since
    previous = DeterminismSettings.capture()
    if mode is False:
        cublas = previous.cublas_workspace_config
        if _cublas_before is not _UNSET:
            cublas = _cublas_before
            _cublas_before = _UNSET
        _pytorch_defaults(cublas).apply()
        return previous

    cublas = previous.cublas_workspace_config
    before = _cublas_before
    if cublas not in CUBLAS_DETERMINISTIC_VALUES:
        before = cublas
        if cublas is not None:
            _warn_once(
                "cublas-overridden",
                f"reprotorch: {CUBLAS_ENV}={cublas!r} is not deterministic; setting it to "
                f"{_CUBLAS_DEFAULT!r}",
            )
        cublas = _CUBLAS_DEFAULT
        if _cuda_initialized():
            _warn_once(
                "cublas-late",
                f"reprotorch: {CUBLAS_ENV} was set after CUDA was initialized and may not take "
                "effect for cuBLAS handles already created. Set it before the first CUDA call, "
                "or start the program with `reprotorch run --deterministic`.",
            )
    DeterminismSettings(
        cudnn_deterministic=True,
        cudnn_benchmark=False,
        deterministic_algorithms=True,
        deterministic_algorithms_warn_only=(mode == "warn"),
        fill_uninitialized_memory=True,
        matmul_allow_tf32=False,
        cudnn_allow_tf32=False,
        cublas_workspace_config=cublas,
    ).apply()
    _cublas_before = before
    if hashseed_at_startup() is None:
        ignored = (
            " (this interpreter runs with -E or -I, which ignore it; drop that flag)"
            if sys.flags.ignore_environment
            else ""
        )
        _warn_once(
            "hashseed",
            f"reprotorch: PYTHONHASHSEED was not set when this interpreter started{ignored}, so "
            "the iteration order of sets of strings changes from run to run. It cannot be "
            "changed from inside a running interpreter; start the program with "
            "`reprotorch run --seed N -- python ...` (or export PYTHONHASHSEED).",
        )
    return previous


@contextmanager
def deterministic(mode: bool | Literal["warn"] = True) -> Iterator[DeterminismSettings]:
    """Context manager form of :func:`set_deterministic`; restores the previous settings on exit, also on error."""
    previous = set_deterministic(mode)
    try:
        yield previous
    finally:
        previous.apply()


@dataclass
class Control:
    """One row of the determinism report."""

    name: str
    value: Any
    reproducible: bool
    applies: bool
    why: str


@dataclass
class DeterminismReport:
    """Each determinism control, its value, whether it is in the reproducible position, and why it matters."""

    controls: list[Control] = field(default_factory=list)
    cuda_available: bool = False

    @property
    def ok(self) -> bool:
        """True when every control that applies on this machine is in the reproducible position."""
        return all(c.reproducible for c in self.controls if c.applies)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "ok": self.ok,
            "cuda_available": self.cuda_available,
            "controls": [asdict(c) for c in self.controls],
        }

    def __str__(self) -> str:
        header = ("control", "value", "state", "why it matters")
        rows = []
        for c in self.controls:
            if c.reproducible:
                state = "ok"
            elif c.applies:
                state = "NOT REPRODUCIBLE"
            else:
                state = "off (no effect here)"
            rows.append((c.name, repr(c.value), state, c.why))
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
        lines = [
            "  ".join(h.ljust(w) for h, w in zip(header[:3], widths)) + "  " + header[3],
            "  ".join("-" * w for w in widths) + "  " + "-" * len(header[3]),
        ]
        for r in rows:
            lines.append("  ".join(v.ljust(w) for v, w in zip(r[:3], widths)) + "  " + r[3])
        return "\n".join(lines)


def determinism_report() -> DeterminismReport:
    """Where every determinism control stands in this process."""
    import torch

    s = DeterminismSettings.capture()
    cuda = bool(torch.cuda.is_available())
    hashseed = hashseed_at_startup()
    controls = [
        Control("PYTHONHASHSEED (at start-up)", hashseed, hashseed is not None, True,
                "order of sets/dicts of strings (class lists, file lists) changes per run without it"),
        Control("torch.backends.cudnn.deterministic", s.cudnn_deterministic, s.cudnn_deterministic, cuda,
                "cuDNN may pick nondeterministic convolution algorithms"),
        Control("torch.backends.cudnn.benchmark", s.cudnn_benchmark, not s.cudnn_benchmark, cuda,
                "autotuning picks algorithms by timing, which differs run to run"),
        Control("torch.use_deterministic_algorithms", s.deterministic_algorithms, s.deterministic_algorithms, True,
                "nondeterministic kernels (scatter_add, index_add, ...) run silently otherwise"),
        Control("deterministic algorithms warn_only", s.deterministic_algorithms_warn_only,
                s.deterministic_algorithms and not s.deterministic_algorithms_warn_only, True,
                "warn_only lets nondeterministic kernels run with only a warning"),
        Control("torch.utils.deterministic.fill_uninitialized_memory", s.fill_uninitialized_memory,
                s.fill_uninitialized_memory, True,
                "torch.empty contents would otherwise depend on what memory held before"),
        Control("torch.backends.cuda.matmul.allow_tf32", s.matmul_allow_tf32, not s.matmul_allow_tf32, cuda,
                "TF32 matmuls round differently across GPU models"),
        Control("torch.backends.cudnn.allow_tf32", s.cudnn_allow_tf32, not s.cudnn_allow_tf32, cuda,
                "TF32 convolutions round differently across GPU models"),
        Control(CUBLAS_ENV, s.cublas_workspace_config,
                s.cublas_workspace_config in CUBLAS_DETERMINISTIC_VALUES, cuda,
                "cuBLAS reductions are nondeterministic with the default workspace (CUDA >= 10.2)"),
    ]
    return DeterminismReport(controls=controls, cuda_available=cuda)
