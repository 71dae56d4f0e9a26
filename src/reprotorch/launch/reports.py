"""Merge what the processes of one launched command reported into one run manifest.

Each traced process (the command's own process, each torchrun rank) writes its
manifest at exit into a report directory (see ``boot/sitecustomize.py``). The
parent, which alone knows the exit status, merges them: the manifest of rank 0
(or of the command's process) is the run's manifest, with a ``run`` section
(command, exit status, seed, trace files) and a ``processes`` section giving
every process's determinism flags and thread counts as it left them, so a rank
that turned ``cudnn.benchmark`` back on is visible.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..manifest import manifest, relevant_environment
from . import LaunchSettings

__all__ = ["collect_reports", "run_manifest", "trace_files", "default_manifest_path"]


def collect_reports(report_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The exit reports in ``report_dir`` (unreadable ones are skipped: a killed process writes none)."""
    reports = []
    for path in sorted(Path(report_dir).glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("process"), dict):
            reports.append(doc)
    return reports


def _primary(reports: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    with_manifest = [r for r in reports if isinstance(r.get("manifest"), dict)]
    for wanted in (
        lambda p: p.get("role") == "rank" and p.get("rank") == 0,
        lambda p: p.get("role") == "main",
        lambda p: True,
    ):
        for report in with_manifest:
            if wanted(report["process"]):
                return report
    return None


def _process_tag(process: Mapping[str, Any]) -> str:
    # Keyed by role, not pid, so that the manifests of two runs line up in a diff.
    if process.get("rank") is not None and process.get("role") == "rank":
        return f"rank{process['rank']}"
    return str(process.get("role", "process"))


def trace_files(trace: str | os.PathLike[str]) -> dict[str, str]:
    """The files a tracer writing to ``trace`` produced: ``{"": path}`` or ``{"rank0": ..., "rank1": ...}``.

    The tracer inserts ``.rank<r>`` before the extension when the world size is
    above one (``trace.jsonl`` -> ``trace.rank1.jsonl``).
    """
    from ..tracing.format import rank_trace_files

    path = Path(trace)
    out = {"": str(path)} if path.is_file() else {}
    out.update((f"rank{rank}", str(file)) for rank, file in rank_trace_files(path).items())
    return out


def default_manifest_path(trace: str | os.PathLike[str]) -> str:
    """Where ``run --trace PATH`` puts its manifest when ``--manifest`` is not given: next to the trace."""
    path = Path(trace)
    stem = path.stem if path.suffix else path.name
    return str(path.with_name(f"{stem}.manifest.json"))


def run_manifest(
    reports: Sequence[dict[str, Any]],
    *,
    command: Sequence[str],
    exit_status: int,
    settings: LaunchSettings,
    child_env: Mapping[str, str],
    duration_s: float,
) -> dict[str, Any]:
    """One manifest for the run: the primary process's, plus ``run`` and ``processes`` sections."""
    primary = _primary(reports)
    if primary is not None:
        doc = dict(primary["manifest"])
        source = f"exit of {_process_tag(primary['process'])} (pid {primary['process'].get('pid')})"
    else:
        # The command never imported torch, is not Python, or was killed before
        # its exit handlers ran: describe the environment it was started with.
        doc = manifest(import_torch=False, probe_devices=False)
        doc["command"] = dict(doc["command"], argv=list(command))
        doc["environment"] = relevant_environment(child_env)
        # This interpreter is not the command's: take what the command was started with.
        hashseed = child_env.get("PYTHONHASHSEED")
        doc["python"] = dict(doc["python"], hashseed_at_startup=None if hashseed in (None, "random") else hashseed)
        seed_text = child_env.get("REPROTORCH_SEED", "")
        doc["seed"] = settings.seed if settings.seed is not None else (int(seed_text) if seed_text.isdigit() else None)
        source = "reprotorch run (no process of the command reported at exit)"
    processes: dict[str, Any] = {}
    for report in reports:
        proc = report["process"]
        entry = dict(proc)
        m = report.get("manifest")
        if isinstance(m, dict):
            entry["determinism"] = m.get("determinism")
            entry["threads"] = m.get("threads")
        tag = base = _process_tag(proc)
        n = 1
        while tag in processes:
            n += 1
            tag = f"{base}{n}"
        processes[tag] = entry
    doc["run"] = {
        "command": list(command),
        "exit_status": exit_status,
        "seed": settings.seed,
        "deterministic": settings.deterministic,
        "pythonhashseed": child_env.get("PYTHONHASHSEED"),
        "threads": settings.threads,
        "trace": settings.trace,
        "trace_files": trace_files(settings.trace) if settings.trace else {},
        "duration_s": round(duration_s, 3),
        "manifest_from": source,
    }
    doc["processes"] = processes
    return doc
