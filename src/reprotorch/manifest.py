"""Manifests: everything about a machine and process that can change a training run's numbers.

Two runs of the same script with the same seed still differ when torch, CUDA or
cuDNN differ, when a determinism flag or ``CUBLAS_WORKSPACE_CONFIG`` differs,
when ``PYTHONHASHSEED`` is unset, when the intra-op thread count changes the
order of a reduction, or when the code itself differs (another commit, or the
same commit with uncommitted edits). A manifest records all of these as one
versioned JSON document, and :func:`diff_manifests` lists what differs between
two of them, most important first, so "why do these two runs differ?" starts
with the likeliest causes.

The manifest never imports torch or NumPy by itself when asked not to
(``import_torch=False``): ``reprotorch run`` writes one at the exit of every
traced process, including processes that never imported torch.
"""

from __future__ import annotations

# platform, subprocess, datetime and hashlib are imported where used: this module
# is imported with the package (``reprotorch.manifest``), on every start of the CLI.
import enum
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._io import atomic_write_json, read_json_document

__all__ = [
    "manifest",
    "diff_manifests",
    "load_manifest",
    "write_manifest",
    "Difference",
    "Importance",
    "FORMAT_NAME",
    "FORMAT_VERSION",
]

FORMAT_NAME = "reprotorch.manifest"
FORMAT_VERSION = 1

# Environment variables that change numerics, seeding, threading or which
# devices and libraries a run uses. Exact names, then prefixes.
_ENV_NAMES = frozenset(
    {
        "PYTHONHASHSEED",
        "PYTHONPATH",
        "CUBLAS_WORKSPACE_CONFIG",
        "CUDA_VISIBLE_DEVICES",
        "CUDA_DEVICE_ORDER",
        "CUDA_LAUNCH_BLOCKING",
        "CUDA_MODULE_LOADING",
        "HIP_VISIBLE_DEVICES",
        "ROCR_VISIBLE_DEVICES",
        "NVIDIA_TF32_OVERRIDE",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
        "GOTO_NUM_THREADS",
        "RANK",
        "LOCAL_RANK",
        "WORLD_SIZE",
        "LOCAL_WORLD_SIZE",
        "GROUP_RANK",
        "ROLE_RANK",
        "ROLE_WORLD_SIZE",
    }
)
_ENV_PREFIXES = (
    "CUBLAS_",
    "CUBLASLT_",
    "CUDNN_",
    "NCCL_",
    "TORCH_",
    "PYTORCH_",
    "REPROTORCH_",
    "OMP_",
    "KMP_",
    "MKL_",
    "ONEDNN_",
    "DNNL_",
    "TF_ENABLE_ONEDNN",
    "XLA_",
)
# The launcher's private channel to its bootstrap (temporary paths among them); what
# they carry is recorded in the manifest's ``run`` section instead.
_ENV_VOLATILE_PREFIXES = ("REPROTORCH_BOOT_",)

_GIT_TIMEOUT_S = 10


# --------------------------------------------------------------------------- collection


def _distribution_list() -> list[str]:
    from importlib.metadata import distributions

    seen: dict[str, str] = {}
    for dist in distributions():
        name = (dist.metadata["Name"] or "").strip()
        if name:
            seen.setdefault(name.lower().replace("_", "-"), dist.version)
    return [f"{name}=={version}" for name, version in sorted(seen.items())]


def _installed_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _boot_dir() -> str:
    return str(Path(__file__).parent / "launch" / "boot")


def relevant_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment variables that can change a run's numbers, sorted by name.

    ``PYTHONPATH`` is shown without the directory ``reprotorch run`` adds, so a
    run and a plain invocation of the same command compare equal on it.
    """
    env = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for key in sorted(env):
        if key.startswith(_ENV_VOLATILE_PREFIXES):
            continue
        if key in _ENV_NAMES or key.startswith(_ENV_PREFIXES):
            value = env[key]
            if key == "PYTHONPATH":
                boot = _boot_dir()
                value = os.pathsep.join(p for p in value.split(os.pathsep) if p != boot)
                if not value:
                    continue
            out[key] = value
    return out


def _git(args: list[str], cwd: str) -> str | None:
    import subprocess

    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            timeout=_GIT_TIMEOUT_S,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", "replace")


def git_state(cwd: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """Commit and uncommitted changes of the git work tree at ``cwd`` (``None`` outside one).

    ``diff_hash`` fingerprints the uncommitted changes to tracked files, so two
    runs that are both "dirty" but with different edits do not look alike.
    """
    import hashlib

    where = os.getcwd() if cwd is None else os.fspath(cwd)
    root = _git(["rev-parse", "--show-toplevel"], where)
    if root is None:
        return None
    commit = _git(["rev-parse", "--verify", "--quiet", "HEAD"], where)
    branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], where)
    status = _git(["status", "--porcelain", "--untracked-files=normal"], where) or ""
    lines = [line for line in status.splitlines() if line.strip()]
    modified = [line for line in lines if not line.startswith("??")]
    diff = _git(["diff", "HEAD", "--no-color", "--no-ext-diff"], where) if commit else None
    return {
        "root": root.strip(),
        "commit": commit.strip() if commit else None,
        "branch": branch.strip() if branch else None,
        "dirty": bool(modified),
        "modified_files": len(modified),
        "untracked_files": len(lines) - len(modified),
        "diff_hash": ("sha256:" + hashlib.sha256(diff.encode("utf-8")).hexdigest()) if diff else None,
    }


def _torch_sections(import_torch: bool, probe_devices: bool) -> dict[str, Any]:
    torch: Any = sys.modules.get("torch")
    if torch is None and import_torch:
        try:
            import torch
        except ImportError:
            torch = None
    if torch is None:
        return {
            "torch": {"version": _installed_version("torch"), "imported": False},
            "devices": None,
            "threads": {"torch_intra_op": None, "torch_inter_op": None, **_cpu_threads()},
            "determinism": None,
        }
    from .determinism import DeterminismSettings

    cuda_available = bool(torch.cuda.is_available())
    cudnn = None
    try:
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    except Exception:  # pragma: no cover - a broken cuDNN install reports itself here
        cudnn = None
    nccl = None
    if cuda_available:
        try:
            v = torch.cuda.nccl.version()
            nccl = ".".join(str(x) for x in v) if isinstance(v, tuple) else str(v)
        except Exception:
            nccl = None
    devices: dict[str, Any] = {
        "cuda_available": cuda_available,
        "cuda_count": int(torch.cuda.device_count()) if cuda_available else 0,
        "cuda": None,
        "mps_available": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
        "xpu_count": int(torch.xpu.device_count())
        if hasattr(torch, "xpu") and torch.xpu.is_available()
        else 0,
    }
    # Naming devices initialises CUDA; at the exit of a process that never used
    # CUDA that costs seconds for nothing, so the exit report skips it.
    if cuda_available and (probe_devices or torch.cuda.is_initialized()):
        names = []
        for i in range(devices["cuda_count"]):
            props = torch.cuda.get_device_properties(i)
            names.append(
                {
                    "name": props.name,
                    "capability": f"{props.major}.{props.minor}",
                    "memory_mib": int(props.total_memory // (1024 * 1024)),
                }
            )
        devices["cuda"] = names
    return {
        "torch": {
            "version": str(torch.__version__),
            "imported": True,
            "git_version": getattr(torch.version, "git_version", None),
            "cuda": torch.version.cuda,
            "hip": getattr(torch.version, "hip", None),
            "cudnn": cudnn,
            "nccl": nccl,
            "debug": bool(getattr(torch.version, "debug", False)),
            "mkl": bool(torch.backends.mkl.is_available()),
            "mkldnn": bool(torch.backends.mkldnn.is_available()),
            "openmp": bool(torch.backends.openmp.is_available()),
        },
        "devices": devices,
        "threads": {
            "torch_intra_op": int(torch.get_num_threads()),
            "torch_inter_op": int(torch.get_num_interop_threads()),
            **_cpu_threads(),
        },
        "determinism": DeterminismSettings.capture().to_dict(),
    }


def _cpu_threads() -> dict[str, Any]:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"cpu_count": os.cpu_count(), "cpus_usable": affinity}


def _libc() -> str | None:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        return None


def _current_seed() -> int | None:
    from .seeding import current_seed

    try:
        return current_seed()
    except (TypeError, ValueError):  # an invalid REPROTORCH_SEED is shown in the environment section
        return None


def manifest(*, import_torch: bool = True, probe_devices: bool = True) -> dict[str, Any]:
    """The reproducibility manifest of this machine and process, as a JSON-able dict.

    Sections: ``python``, ``platform``, ``torch`` (versions of torch, CUDA, cuDNN,
    NCCL), ``numpy``, ``devices``, ``threads``, ``determinism`` (every control as it
    is now), ``seed`` (the run's root seed), ``environment`` (the variables that can
    change results), ``git`` (commit and uncommitted changes of the working
    directory) and ``distributions`` (every installed distribution and a hash of
    the list). ``import_torch=False`` reports torch only if the process already
    imported it; ``probe_devices=False`` names CUDA devices only if CUDA is
    already initialised.
    """
    import datetime
    import hashlib
    import platform

    from . import __version__
    from .determinism import hashseed_at_startup

    dists = _distribution_list()
    numpy_mod = sys.modules.get("numpy")
    doc: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "reprotorch": __version__,
        "command": {
            "argv": list(getattr(sys, "orig_argv", sys.argv)),
            "cwd": os.getcwd(),
            "pid": os.getpid(),
        },
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "hashseed_at_startup": hashseed_at_startup(),
        },
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "node": platform.node(),
            "libc": _libc(),
        },
    }
    sections = _torch_sections(import_torch, probe_devices)
    doc["torch"] = sections["torch"]
    doc["numpy"] = {
        "version": str(numpy_mod.__version__) if numpy_mod is not None else _installed_version("numpy"),
        "imported": numpy_mod is not None,
    }
    doc["devices"] = sections["devices"]
    doc["threads"] = sections["threads"]
    doc["determinism"] = sections["determinism"]
    doc["seed"] = _current_seed()
    doc["environment"] = relevant_environment()
    doc["git"] = git_state()
    doc["distributions"] = {
        "hash": "sha256:" + hashlib.sha256("\n".join(dists).encode("utf-8")).hexdigest(),
        "count": len(dists),
        "list": dists,
    }
    return doc


def write_manifest(path: str | os.PathLike[str], document: Mapping[str, Any] | None = None) -> None:
    """Write ``document`` (default: :func:`manifest`) to ``path`` atomically."""
    doc = manifest() if document is None else _validated(dict(document), "manifest")
    atomic_write_json(path, doc)


def _validated(document: Any, where: str) -> dict[str, Any]:
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ValueError(
            f"{where} is not a reprotorch manifest: expected a JSON object with "
            f"format {FORMAT_NAME!r} (write one with `reprotorch env --json` or reprotorch.manifest())"
        )
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(
            f"{where} is corrupt: its 'version' is {version!r}, expected an integer from 1 "
            f"to {FORMAT_VERSION}"
        )
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{where} has manifest format version {version}; this reprotorch reads up to "
            f"{FORMAT_VERSION}. Upgrade reprotorch to read it."
        )
    return document


def load_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a manifest file (JSON only; never unpickles)."""
    return _validated(read_json_document(path, kind="reprotorch manifest"), repr(os.fspath(path)))


# --------------------------------------------------------------------------- comparison


class Importance(enum.IntEnum):
    """How likely a difference is to change a run's numbers (higher first)."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Difference:
    """One key whose value differs between two manifests (``None``: absent on that side)."""

    key: str
    a: Any
    b: Any
    importance: Importance

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"key": self.key, "a": self.a, "b": self.b, "importance": str(self.importance)}

    def __str__(self) -> str:
        return f"{self.key}: {_show(self.a)} -> {_show(self.b)}"


def _show(value: Any) -> str:
    if value is None:
        return "(absent)"
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


# Keys that differ on every run and say nothing about its numbers.
_VOLATILE = (
    "created", "command.pid", "run.duration_s", "run.trace", "run.trace_files", "run.manifest_from",
)
_VOLATILE_PARTS = (".pid", ".ppid")

# (prefix, importance), first match wins; a prefix matches the key itself or anything under it.
_RULES: tuple[tuple[str, Importance], ...] = (
    ("environment.PYTHONHASHSEED", Importance.HIGH),
    ("environment.CUBLAS_WORKSPACE_CONFIG", Importance.HIGH),
    ("environment.CUDA_VISIBLE_DEVICES", Importance.HIGH),
    ("environment.NVIDIA_TF32_OVERRIDE", Importance.HIGH),
    ("environment.REPROTORCH_SEED", Importance.HIGH),
    ("environment", Importance.MEDIUM),
    ("seed", Importance.HIGH),
    ("run.seed", Importance.HIGH),
    ("run.deterministic", Importance.HIGH),
    ("run.command", Importance.HIGH),
    ("run.vary", Importance.HIGH),
    ("run.exit_status", Importance.MEDIUM),
    ("run", Importance.LOW),
    # The interpreter's path differs between machines harmlessly; run.command is the command.
    ("command.argv", Importance.MEDIUM),
    ("command", Importance.LOW),
    ("torch.version", Importance.HIGH),
    ("torch.git_version", Importance.HIGH),
    ("torch.cuda", Importance.HIGH),
    ("torch.cudnn", Importance.HIGH),
    ("torch.hip", Importance.HIGH),
    ("torch.nccl", Importance.HIGH),
    ("torch", Importance.MEDIUM),
    ("numpy.version", Importance.HIGH),
    ("numpy", Importance.LOW),
    ("python.version", Importance.HIGH),
    ("python.implementation", Importance.HIGH),
    ("python.hashseed_at_startup", Importance.HIGH),
    ("python", Importance.LOW),
    ("determinism", Importance.HIGH),
    ("processes", Importance.MEDIUM),
    ("devices", Importance.HIGH),
    ("git.commit", Importance.HIGH),
    ("git.diff_hash", Importance.HIGH),
    ("git.dirty", Importance.MEDIUM),
    ("git", Importance.LOW),
    ("threads.torch_intra_op", Importance.MEDIUM),
    ("threads.torch_inter_op", Importance.MEDIUM),
    ("threads", Importance.LOW),
    ("distributions", Importance.MEDIUM),
    ("reprotorch", Importance.MEDIUM),
    ("platform.machine", Importance.MEDIUM),
    ("platform.system", Importance.MEDIUM),
    ("platform.libc", Importance.MEDIUM),
    ("platform", Importance.LOW),
)
# Within one importance, sections in this order (the likeliest causes first).
_SECTION_ORDER = (
    "seed", "run", "determinism", "environment", "python", "torch", "numpy", "devices",
    "git", "command", "processes", "threads", "distributions", "reprotorch", "platform",
)


def _importance(key: str, subtree: bool = False) -> Importance:
    """The first rule matching ``key``; for a whole section present on one side only, its most important rule."""
    found = Importance.LOW
    for prefix, importance in _RULES:
        if key == prefix or key.startswith(prefix + "."):
            found = importance
            break
    if subtree:
        below = [imp for prefix, imp in _RULES if prefix.startswith(key + ".")]
        found = max([found, *below])
    return found


def _is_volatile(key: str) -> bool:
    return key in _VOLATILE or key.endswith(_VOLATILE_PARTS)


_MISSING = object()


def _walk(a: Any, b: Any, key: str, out: list[tuple[str, Any, Any]]) -> None:
    """Collect ``(key, a, b)`` for every differing leaf; a subtree on one side only is one difference."""
    if key and _is_volatile(key):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            _walk(a.get(k, _MISSING), b.get(k, _MISSING), f"{key}.{k}" if key else str(k), out)
        return
    # Absent and null both mean "no value" (``torch.cuda`` is null on a CPU build and
    # absent when torch is not imported); only a real value against none differs.
    a = None if a is _MISSING else a
    b = None if b is _MISSING else b
    if a != b:
        out.append((key, a, b))


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    doc = {k: v for k, v in document.items() if k not in ("format", "version")}
    dists = doc.get("distributions")
    if isinstance(dists, dict) and isinstance(dists.get("list"), list):
        # One difference per package ("numpy 1.26.4 -> 2.0.0"), not one for the whole list;
        # the hash and count say nothing more than the list.
        packages = {}
        for item in dists["list"]:
            name, _, version = str(item).partition("==")
            packages[name] = version
        doc["distributions"] = {"packages": packages}
    return doc


def _load_any(value: Any, name: str) -> dict[str, Any]:
    if isinstance(value, (str, os.PathLike)):
        return load_manifest(value)
    if isinstance(value, Mapping):
        return _validated(dict(value), f"manifest {name}")
    raise TypeError(
        f"diff_manifests: {name} must be a manifest dict or the path of a manifest file, "
        f"got {type(value).__name__}"
    )


def diff_manifests(a: Mapping[str, Any] | str | os.PathLike[str], b: Mapping[str, Any] | str | os.PathLike[str]) -> list[Difference]:
    """The reproducibility-relevant differences between two manifests, most important first.

    ``a`` and ``b`` are manifest dicts (from :func:`manifest`) or paths of manifest
    files. Keys are dotted paths (``environment.PYTHONHASHSEED``,
    ``distributions.packages.numpy``); values that only identify a process or a
    moment (creation time, process ids) are ignored. An empty list means the
    two manifests describe the same environment.
    """
    found: list[tuple[str, Any, Any]] = []
    _walk(_comparable(_load_any(a, "a")), _comparable(_load_any(b, "b")), "", found)
    order = {name: i for i, name in enumerate(_SECTION_ORDER)}
    diffs = [
        Difference(key, va, vb, _importance(key, isinstance(va, dict) or isinstance(vb, dict)))
        for key, va, vb in found
    ]
    keys = [d.key for d in diffs]
    position = {k: i for i, k in enumerate(keys)}
    diffs.sort(
        key=lambda d: (
            -d.importance,
            order.get(d.key.split(".", 1)[0], len(order)),
            position[d.key],
        )
    )
    return diffs
