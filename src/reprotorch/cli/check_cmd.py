"""``reprotorch check``: run a command several times and say whether it reproduces, and if not, where.

Each run is a ``reprotorch run`` with a trace (and, with ``--seed``, seeding):
the traces of run 1 and run *i* are compared step by step, module by module,
and the first divergence is named with a likely cause. ``--compare`` adds the
files the command writes (fingerprinted right after each run, before the next
one can overwrite them) and ``--stdout`` its standard output. ``--vary``
perturbs what should not matter (``PYTHONHASHSEED``, the thread count) to
expose hidden dependencies on it.

Exit status: 0 reproducible, 1 diverged, 2 usage error or the command failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import CLIError
from .run_cmd import add_command_arguments, require_command

TAKES_COMMAND = True

FORMAT_NAME = "reprotorch.check"
FORMAT_VERSION = 1
VARY_CHOICES = ("hashseed", "threads")
MAX_RUNS = 1000
_MARKER = ".reprotorch-check"  # marks the run directories check may replace under --keep


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``reprotorch check``."""
    parser.usage = "reprotorch check [options] -- COMMAND [ARGS...]"
    parser.add_argument(
        "-n", "--runs", type=_runs_argument, default=2, metavar="N",
        help="how many times to run the command (at least 2; default 2)",
    )
    add_command_arguments(parser)
    parser.add_argument(
        "--vary", type=_vary_argument, default=[], metavar="WHAT",
        help="perturb what should not matter, comma-separated: hashseed (PYTHONHASHSEED = i + 1 "
        "in run i), threads (odd runs use every core, even runs one thread)",
    )
    parser.add_argument(
        "--compare", action="append", default=[], metavar="GLOB",
        help="files the command writes to compare after each run (repeatable; tensors in "
        ".pt/.pth/.npy/.npz/.safetensors by content, other files by bytes)",
    )
    parser.add_argument("--stdout", action="store_true", help="also compare the standard output of the runs")
    parser.add_argument(
        "--ignore-line", action="append", default=[], metavar="REGEX", type=_regex_argument,
        help="with --stdout: skip output lines matching REGEX (timings, dates); repeatable",
    )
    parser.add_argument("--keep", metavar="DIR", help="keep each run's trace, manifest and output in DIR/run<i>/")
    parser.add_argument("--json", action="store_true", help="print the verdict as one JSON document")
    parser.add_argument("command", nargs="*", metavar="COMMAND", help="the command to check, after '--'")


def _runs_argument(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer of at least 2, got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"expected at least 2 runs (a check compares run 1 with the others), got {value}"
        )
    if value > MAX_RUNS:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_RUNS} runs, got {value}")
    return value


def _vary_argument(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in items if t not in VARY_CHOICES]
    if unknown or not items:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {', '.join(VARY_CHOICES)}, got {text!r}"
        )
    return list(dict.fromkeys(items))


def _regex_argument(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a valid regular expression {text!r}: {exc}") from None


# --------------------------------------------------------------------------- one run


@dataclass
class RunRecord:
    """What one run produced."""

    index: int
    directory: Path
    status: int
    duration_s: float
    pythonhashseed: str | None
    threads: int | None
    traces: dict[str, str] = field(default_factory=dict)  # rank tag -> path
    digests: dict[str, str] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)  # path -> FileFingerprint
    stale: list[str] = field(default_factory=list)
    stdout: list[str] | None = None
    manifest: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "run": self.index,
            "exit_status": self.status,
            "seconds": round(self.duration_s, 3),
            "pythonhashseed": self.pythonhashseed,
            "threads": self.threads,
            "traces": {tag: {"steps": self.steps.get(tag), "digest": self.digests.get(tag)} for tag in self.traces},
            "files": {p: f.to_dict() for p, f in self.files.items()},
            "stdout_lines": None if self.stdout is None else len(self.stdout),
        }


class Progress:
    """One status line on a terminal's standard error, redrawn in place; silent elsewhere."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.label = ""

    def update(self, last_line: str, elapsed: float) -> None:
        if not self.enabled:
            return
        width = shutil.get_terminal_size((80, 20)).columns
        text = f"{self.label} · {elapsed:5.1f}s"
        if last_line:
            text += f" · {last_line.strip()}"
        if len(text) > width - 1:
            text = text[: max(width - 2, 10)] + "…"
        sys.stderr.write("\r\x1b[2K" + text)
        sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


def _vary_settings(vary: list[str], index: int) -> tuple[int | None, int | None]:
    hashseed = index + 1 if "hashseed" in vary else None
    threads = None
    if "threads" in vary:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        threads = cores if index % 2 == 1 else 1
    return hashseed, threads


def _filtered_stdout(path: str, ignore: list[re.Pattern[str]]) -> list[str]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = [line.rstrip("\n") for line in handle]
    return [line for line in lines if not any(rx.search(line) for rx in ignore)]


class _Failed(Exception):
    def __init__(self, message: str, tail: list[str]) -> None:
        super().__init__(message)
        self.tail = tail


def _one_run(args: argparse.Namespace, command: list[str], program: str, index: int,
             directory: Path, progress: Progress) -> RunRecord:
    from ..launch import LaunchSettings, child_environment
    from ..launch.capture import run_captured
    from ..launch.files import expand_patterns, file_stamp, fingerprint_file
    from ..launch.reports import collect_reports, run_manifest, trace_files

    if directory.exists():
        if not (directory / _MARKER).exists():
            raise CLIError(
                f"{directory} exists and was not written by reprotorch check; give --keep a new "
                "or empty directory (or one a previous check wrote)"
            )
        shutil.rmtree(directory)  # a previous check's run: replace it
    (directory / "reports").mkdir(parents=True)
    (directory / _MARKER).write_text("written by reprotorch check; replaced by the next check\n")
    hashseed, threads = _vary_settings(args.vary, index)
    settings = LaunchSettings(
        seed=args.seed,
        deterministic=args.deterministic,
        trace=str(directory / f"run{index}.trace.jsonl"),  # the name tells the runs apart in reports
        report_dir=str(directory / "reports"),
        threads=threads,
        hashseed=hashseed,
    )
    env = child_environment(settings)
    if progress.enabled:
        env.setdefault("PYTHONUNBUFFERED", "1")  # so the last output line shows as it is printed
    before = {p: file_stamp(p) for paths in expand_patterns(args.compare).values() for p in paths}
    progress.label = f"reprotorch check: run {index}/{args.runs}"
    captured = run_captured(
        command, program, env,
        stdout_path=str(directory / "stdout.txt"),
        stderr_path=str(directory / "stderr.txt"),
        progress=progress.update,
    )
    progress.clear()
    record = RunRecord(
        index=index, directory=directory, status=captured.status, duration_s=captured.duration_s,
        pythonhashseed=env.get("PYTHONHASHSEED"), threads=threads,
    )
    if captured.status != 0:
        last = captured.stderr_tail[-1] if captured.stderr_tail else "(nothing on its standard error)"
        raise _Failed(
            f"run {index} of {args.runs} failed: the command exited with status {captured.status}: {last}",
            captured.stderr_tail,
        )
    record.manifest = run_manifest(
        collect_reports(settings.report_dir or ""), command=command, exit_status=captured.status,
        settings=settings, child_env=env, duration_s=captured.duration_s,
    )
    from .._io import atomic_write_json

    atomic_write_json(directory / "manifest.json", record.manifest)
    record.traces = trace_files(settings.trace or "")
    if record.traces:
        from ..tracing import load_trace

        for tag, path in record.traces.items():
            trace = load_trace(path)
            record.digests[tag] = str(trace.digest)
            record.steps[tag] = int(trace.num_steps)
    for pattern, paths in expand_patterns(args.compare).items():
        if not paths and index == 1:
            raise CLIError(
                f"--compare {pattern!r} matched no file after run 1 (patterns are relative to "
                f"{os.getcwd()}); check the pattern or where the command writes its files"
            )
        for path in paths:
            if path in record.files:
                continue
            if path in before and before[path] == file_stamp(path):
                record.stale.append(path)
            record.files[path] = fingerprint_file(path)
    if args.stdout:
        record.stdout = _filtered_stdout(captured.stdout_path, args.ignore_line)
    return record


# --------------------------------------------------------------------------- comparison


def _compare(first: RunRecord, other: RunRecord, notes: list[str]) -> dict[str, Any] | None:
    """What differs between run 1 and another run (``None``: nothing).

    ``compare_traces``' notes (an unused generator that differs, a trace without its
    end mark) are appended to ``notes`` whether or not the runs differ: a verdict of
    "reproducible" should still show what was set aside to reach it.
    """
    from ..manifest import Importance, diff_manifests

    found: dict[str, Any] = {"run": other.index, "traces": [], "files": [], "stdout": None, "environment": []}
    tags = sorted(set(first.traces) | set(other.traces))
    for tag in tags:
        a, b = first.traces.get(tag), other.traces.get(tag)
        label = tag or "main"
        if a is None or b is None:
            found["traces"].append({
                "rank": label, "divergence": None,
                "message": f"trace {label}: written by run {first.index if a else other.index} only",
            })
            continue
        from ..tracing import compare_traces

        trace_notes: list[str] = []
        divergence = compare_traces(a, b, notes=trace_notes)
        where = "" if label == "main" else f" ({label})"
        notes.extend(f"run {other.index} vs run 1{where}: {n}" for n in trace_notes)
        if divergence is not None:
            found["traces"].append({"rank": label, "divergence": divergence.to_dict(), "message": str(divergence)})
    for path in sorted(set(first.files) | set(other.files)):
        fa, fb = first.files.get(path), other.files.get(path)
        if fa is None or fb is None:
            found["files"].append({"path": path, "a": fa and fa.fingerprint, "b": fb and fb.fingerprint,
                                   "message": f"{path}: written in run {first.index if fa else other.index} only"})
        elif fa.fingerprint != fb.fingerprint:
            found["files"].append({"path": path, "a": fa.fingerprint, "b": fb.fingerprint,
                                   "message": f"{path}: {fa.fingerprint} vs {fb.fingerprint} ({fa.how})"})
    if first.stdout is not None and other.stdout is not None and first.stdout != other.stdout:
        n = next((i for i, (x, y) in enumerate(zip(first.stdout, other.stdout)) if x != y),
                 min(len(first.stdout), len(other.stdout)))
        a_line = first.stdout[n] if n < len(first.stdout) else None
        b_line = other.stdout[n] if n < len(other.stdout) else None
        found["stdout"] = {
            "line": n + 1, "a": a_line, "b": b_line,
            "message": f"line {n + 1} (after --ignore-line filtering): "
                       f"{'(end of output)' if a_line is None else repr(a_line)} vs "
                       f"{'(end of output)' if b_line is None else repr(b_line)}",
        }
    if not (found["traces"] or found["files"] or found["stdout"]):
        return None
    if first.manifest is not None and other.manifest is not None:
        found["environment"] = [
            d.to_dict() for d in diff_manifests(first.manifest, other.manifest)
            if d.importance >= Importance.MEDIUM and not d.key.startswith(("run.duration", "run.trace"))
        ][:8]
    return found


def _overall_fingerprint(record: RunRecord) -> str | None:
    if len(record.digests) == 1 and not record.files and record.stdout is None:
        return next(iter(record.digests.values()))
    from ..fingerprint import fingerprint

    return str(fingerprint({
        "traces": dict(record.digests),
        "files": {p: f.fingerprint for p, f in record.files.items()},
        "stdout": record.stdout,
    }))


# --------------------------------------------------------------------------- output


def _verdict_text(runs: list[RunRecord], differences: list[dict[str, Any]], warnings: list[str],
                  notes: list[str] | None = None) -> str:
    first = runs[0]
    steps = max(first.steps.values(), default=0)
    lines = []
    if not differences:
        fp = _overall_fingerprint(first)
        lines.append(f"reproducible: {len(runs)} runs, {steps} steps, bitwise identical (fingerprint {fp})")
        parts = []
        if list(first.traces) == [""]:
            parts.append("trace")
        elif first.traces:
            parts.append("traces " + ", ".join(first.traces))
        if first.files:
            parts.append(f"{len(first.files)} file(s)")
        if first.stdout is not None:
            parts.append(f"stdout ({len(first.stdout)} lines)")
        lines.append("  compared: " + "; ".join(parts))
    else:
        runs_diff = ", ".join(str(d["run"]) for d in differences)
        lines.append(f"not reproducible: run {runs_diff} differs from run 1 ({len(runs)} runs, {steps} steps)")
        d = differences[0]
        lines.append(f"  run {d['run']} vs run 1:")
        for t in d["traces"]:
            div = t["divergence"]
            if div is None:
                lines.append(f"    {t['message']}")
                continue
            where = "" if t["rank"] == "main" else f"{t['rank']}: "
            lines.append(f"    {where}" + t["message"].replace("\n", "\n    "))
        if d["files"]:
            lines.append("    files that differ:")
            lines.extend(f"      {f['message']}" for f in d["files"])
        if d["stdout"]:
            lines.append(f"    standard output differs at {d['stdout']['message']}")
        if d["environment"]:
            lines.append("    environment differences (reprotorch diff on the manifests):")
            lines.extend(
                f"      {e['key']}: {e['a']!r} -> {e['b']!r}" for e in d["environment"]
            )
    for w in warnings:
        lines.append(f"  warning: {w}")
    for n in dict.fromkeys(notes or []):  # the same note for every run pair once is enough
        lines.append(f"  note: {n}")
    return "\n".join(lines)


def _json_document(args: argparse.Namespace, command: list[str], runs: list[RunRecord],
                   differences: list[dict[str, Any]], warnings: list[str], status: int,
                   error: str | None = None, stderr_tail: list[str] | None = None,
                   notes: list[str] | None = None) -> dict[str, Any]:
    first = runs[0] if runs else None
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "status": {0: "reproducible", 1: "diverged"}.get(status, "error"),
        "reproducible": status == 0,
        "exit_status": status,
        "command": command,
        "runs": args.runs,
        "steps": max(first.steps.values(), default=0) if first else 0,
        "fingerprint": _overall_fingerprint(first) if first and status == 0 else None,
        "seed": args.seed,
        "deterministic": args.deterministic,
        "vary": args.vary,
        "run_details": [r.summary() for r in runs],
        "differences": differences,
        "warnings": warnings,
        "notes": list(dict.fromkeys(notes or [])),
        "error": error,
        "stderr_tail": stderr_tail,
        "kept": os.path.abspath(args.keep) if args.keep else None,
    }


def run(args: argparse.Namespace) -> int:
    """Run the command ``args.runs`` times, compare, print the verdict; return 0, 1 or 2.

    With ``--json`` every outcome is one JSON document on standard output -- an
    error too (``"status": "error"``), besides its one line on standard error --
    so a program reading the output always gets a document to parse.
    """
    runs: list[RunRecord] = []
    warnings: list[str] = []
    try:
        return _check(args, runs, warnings)
    except (_Failed, CLIError, ValueError, OSError) as exc:
        if args.json:
            tail = exc.tail if isinstance(exc, _Failed) else None
            document = _json_document(args, list(args.command), runs, [], warnings, 2, str(exc), tail)
            print(json.dumps(document))
        if isinstance(exc, _Failed):
            raise CLIError(str(exc)) from None
        raise


def _check(args: argparse.Namespace, runs: list[RunRecord], warnings: list[str]) -> int:
    from ..launch import LaunchSettings, ProgramNotFound, child_environment, resolve_program

    command = require_command(args.command, "check")
    if args.ignore_line and not args.stdout:
        raise CLIError("--ignore-line only applies to --stdout; add --stdout to compare standard output")
    try:
        program = resolve_program(command, child_environment(LaunchSettings()))
    except ProgramNotFound as exc:
        raise CLIError(str(exc)) from None
    if "threads" in args.vary and _vary_settings(args.vary, 1)[1] == 1:
        warnings.append("--vary threads has no effect on a machine with one usable core")

    if args.keep:
        work = Path(args.keep).expanduser().absolute()
        if work.exists() and not work.is_dir():
            raise CLIError(f"--keep {args.keep!r} exists and is not a directory")
        try:
            work.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CLIError(f"cannot create the --keep directory {args.keep!r}: {exc.strerror or exc}") from None
        tmp = None
    else:
        tmp = tempfile.TemporaryDirectory(prefix="reprotorch-check-")
        work = Path(tmp.name)
    progress = Progress(sys.stderr.isatty() and not args.json)
    try:
        for i in range(1, args.runs + 1):
            runs.append(_one_run(args, command, program, i, work / f"run{i}", progress))
        first = runs[0]
        if not first.traces and not args.compare and not args.stdout:
            raise CLIError(
                "nothing to compare: run 1 wrote no trace (the command ran no torch.nn.Module "
                "forward and no optimizer step in a traced process); add --compare GLOB or --stdout"
            )
        for r in runs:
            if r.stale:
                warnings.append(
                    f"run {r.index} did not rewrite {', '.join(r.stale)} (unchanged since before the "
                    "run), so that comparison says nothing about the run"
                )
        notes: list[str] = []
        differences = [d for d in (_compare(first, r, notes) for r in runs[1:]) if d is not None]
        status = 1 if differences else 0
        if args.json:
            print(json.dumps(_json_document(args, command, runs, differences, warnings, status, notes=notes)))
        else:
            print(_verdict_text(runs, differences, warnings, notes))
            if args.keep:
                print(f"  kept: {work}")
        return status
    finally:
        progress.clear()
        if tmp is not None:
            tmp.cleanup()
