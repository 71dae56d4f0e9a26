"""The trace file format: versioned JSON Lines, append-only, readable after a crash.

A trace is a text file with one JSON object per line:

1. **Header** (first line)::

     {"format": "reprotorch.trace", "version": 1, "fingerprint": "xxh3-128",
      "rank": 0, "world_size": 1, "scope": "model" | "global", "model": "Net",
      "record": ["inputs", ...], "every": 1, "first_step": 0, "pid": 123,
      "created": "...", "reprotorch": "0.1.0", "torch": "2.13.0", "python": "3.11.9"}

   ``first_step`` is the number of the first step the trace records (0 unless
   the tracer was created with ``first_step=k``, as a run resumed from a
   checkpoint after ``k`` completed steps does); a header without it means 0.

2. **Events**, one per recorded value::

     {"step": 3, "phase": "forward", "module": "layer1.0.conv1", "call": 0,
      "tensor": "output", "fp": "xxh3-128:...", "dtype": "float32",
      "shape": [16, 8, 14, 14], "sum": 12.5, "maxabs": 3.25}

   ``phase`` is one of ``rng`` (generator state at the start of the step;
   ``tensor`` is the source name, no summaries), ``data`` (top-level module
   inputs), ``forward`` (module outputs), ``loss``, ``backward`` (gradients as
   the optimizer sees them; ``module``/``tensor`` split the parameter name) and
   ``optimizer`` (parameters after the step). ``call`` counts calls of that
   module (or values of that parameter) within the step. ``sum`` is a float64
   sum, ``maxabs`` the largest absolute value; non-finite values are written as
   the strings ``"nan"``, ``"inf"``, ``"-inf"``. A value that could not be
   hashed has ``"fp": null`` and an ``"error"`` text.

3. **Marks**: ``{"mark": "step", "step": k}`` after step ``k`` completes (an
   optimizer step or ``Tracer.step()``), and a final
   ``{"mark": "end", "step": k, "steps": n, "rng": {source: fp}}`` written when
   the tracer closes normally, with the generators' states at that moment
   (``k`` is the step that was running, ``n`` the number of steps the tracer
   completed).

The key of an event is ``(step, phase, module, call, tensor)``; comparison aligns
on it, never on line numbers. Lines are only ever appended and are flushed at
every step boundary, so a killed run leaves a readable prefix; a last line cut
off mid-way is ignored on loading.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..fingerprint import ALGORITHM, fingerprint

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "PHASES",
    "RECORD_CHOICES",
    "Trace",
    "load_trace",
    "trace_path_for_rank",
    "find_rank_traces",
    "rank_trace_files",
    "event_key",
]

FORMAT_NAME = "reprotorch.trace"
FORMAT_VERSION = 1

#: Phases in the order they occur within a step.
PHASES = ("rng", "data", "forward", "loss", "backward", "optimizer")
PHASE_ORDER = {p: i for i, p in enumerate(PHASES)}

#: What a Tracer can record, and the phase each choice produces.
RECORD_CHOICES = {
    "inputs": "data",
    "outputs": "forward",
    "grads": "backward",
    "params": "optimizer",
    "loss": "loss",
    "rng": "rng",
}

EventKey = tuple[int, str, str, int, str]


def event_key(event: dict[str, Any]) -> EventKey:
    """The alignment key ``(step, phase, module, call, tensor)`` of an event."""
    return (event["step"], event["phase"], event["module"], event["call"], event["tensor"])


def trace_path_for_rank(path: str | os.PathLike[str], rank: int | None) -> Path:
    """``PATH`` with ``.rank<r>`` inserted before the extension; exactly ``PATH`` for ``None``.

    ``trace.jsonl`` -> ``trace.rank1.jsonl``; ``trace`` -> ``trace.rank1``.
    """
    p = Path(path)
    if rank is None:
        return p
    suffix = p.suffix
    stem = p.name[: -len(suffix)] if suffix else p.name
    return p.with_name(f"{stem}.rank{int(rank)}{suffix}")


def rank_trace_files(path: str | os.PathLike[str]) -> dict[int, Path]:
    """The per-rank files of a tracer writing to ``path`` (see :func:`trace_path_for_rank`), by rank."""
    p = Path(path)
    suffix = p.suffix
    stem = p.name[: -len(suffix)] if suffix else p.name
    pattern = re.compile(re.escape(stem) + r"\.rank(\d+)" + re.escape(suffix) + "$")
    directory = p.parent if str(p.parent) else Path(".")
    if not directory.is_dir():
        return {}
    found = {}
    for child in directory.iterdir():
        m = pattern.match(child.name)
        if m and child.is_file():
            found[int(m.group(1))] = child
    return dict(sorted(found.items()))


def find_rank_traces(path: str | os.PathLike[str]) -> list[Path]:
    """The trace files a run with ``--trace PATH`` left: ``[PATH]`` or its per-rank files by rank.

    Returns an empty list when there is neither.
    """
    p = Path(path)
    if p.is_file():
        return [p]
    return list(rank_trace_files(p).values())


@dataclass
class Trace:
    """A loaded trace: its header, value events and marks, in file order.

    ``events`` holds the value events as dicts (keys documented in
    :mod:`reprotorch.tracing.format`); ``marks`` the step and end marks.
    ``truncated`` is true when the last line was cut off (and ignored).
    """

    header: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    marks: list[dict[str, Any]] = field(default_factory=list)
    path: str | None = None
    truncated: bool = False

    @property
    def first_step(self) -> int:
        """The number of the trace's first step: 0, or the tracer's ``first_step`` (a resumed run)."""
        first = self.header.get("first_step", 0)
        return first if isinstance(first, int) and not isinstance(first, bool) else 0

    @property
    def completed_steps(self) -> int:
        """Number of step boundaries recorded (completed optimizer steps or ``Tracer.step()`` calls)."""
        return sum(1 for m in self.marks if m.get("mark") == "step")

    @property
    def end_step(self) -> int:
        """The step after the last completed one: ``first_step + completed_steps``."""
        return self.first_step + self.completed_steps

    @property
    def num_steps(self) -> int:
        """Steps the trace covers: completed steps, plus a trailing partial step that recorded values.

        The RNG snapshot taken right after the last boundary does not count as a
        step of its own.
        """
        done = self.completed_steps
        end = self.first_step + done
        if any(e["step"] >= end and e["phase"] != "rng" for e in self.events):
            return done + 1
        return done

    @property
    def complete(self) -> bool:
        """Whether the tracer closed normally (the end mark is present)."""
        return any(m.get("mark") == "end" for m in self.marks)

    @property
    def end_mark(self) -> dict[str, Any] | None:
        """The end mark, if the tracer closed normally."""
        for m in reversed(self.marks):
            if m.get("mark") == "end":
                return m
        return None

    @property
    def rank(self) -> int | None:
        """The rank that wrote the trace (0 without ``torch.distributed``); ``None`` if the header lacks it."""
        rank = self.header.get("rank")
        return rank if isinstance(rank, int) else None

    @property
    def record(self) -> tuple[str, ...]:
        """What the tracer recorded (its ``record`` argument); every choice for a header without it."""
        return tuple(self.header.get("record", tuple(RECORD_CHOICES)))

    @property
    def every(self) -> int:
        """The tracer's ``every``: values were recorded at the steps divisible by it."""
        every = self.header.get("every", 1)
        return every if isinstance(every, int) and every >= 1 else 1

    @cached_property
    def digest(self) -> str:
        """One fingerprint for the whole trace: every observed value with its key, and the step count.

        RNG snapshots are left out: an unused generator's state is legitimately
        different in every run (see :func:`~reprotorch.compare_traces`), and any
        RNG difference that matters changes an observed value. Two traces that
        compare as identical over the same phases have the same digest.
        """
        items: list[tuple[Any, ...]] = [(self.num_steps, self.completed_steps)]
        if self.first_step:  # (kept out at 0, so digests of traces without it do not change)
            items.append(("first_step", self.first_step))
        items.extend(
            (e["step"], e["phase"], e["module"], e["call"], e["tensor"], e.get("fp"))
            for e in self.events
            if e["phase"] != "rng"
        )
        return fingerprint(items)

    def __repr__(self) -> str:
        where = f" {self.path!r}" if self.path else ""
        state = "complete" if self.complete else ("truncated" if self.truncated else "no end mark")
        return f"<Trace{where}: {self.num_steps} steps, {len(self.events)} events, {state}>"


_EVENT_FIELDS = {"step": int, "phase": str, "module": str, "call": int, "tensor": str}


def _validate_event(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if "mark" in obj:
        if obj["mark"] not in ("step", "end") or not isinstance(obj.get("step"), int):
            raise ValueError(f"{where}: malformed mark {obj!r}")
        return obj
    for key, kind in _EVENT_FIELDS.items():
        value = obj.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f"{where}: field {key!r} must be {kind.__name__}, got {value!r}")
    if obj["phase"] not in PHASE_ORDER:
        raise ValueError(f"{where}: unknown phase {obj['phase']!r} (known: {', '.join(PHASES)})")
    fp = obj.get("fp")
    if fp is not None and not isinstance(fp, str):
        raise ValueError(f"{where}: 'fp' must be a string or null")
    return obj


def parse_trace_lines(raw: bytes, source: str, path: str | None = None) -> Trace:
    """Parse the bytes of a trace file (see :func:`load_trace`)."""
    if raw[:1] == b"\x80":
        raise ValueError(
            f"{source} is not a reprotorch trace: it looks like a pickle file. reprotorch only "
            "reads its own JSON Lines traces (unpickling could execute arbitrary code)."
        )
    if not raw.strip():
        raise ValueError(f"{source} is not a reprotorch trace: the file is empty")
    lines = raw.split(b"\n")
    truncated = False
    if lines[-1] == b"":
        lines.pop()
    else:
        truncated = True  # no newline after the last line: it was cut off mid-write
    complete_lines = lines[:-1] if truncated else lines
    if not complete_lines:
        raise ValueError(
            f"{source} is not a usable reprotorch trace: it ends inside its header line "
            "(the run was killed before the first flush completed)"
        )
    try:
        header = json.loads(complete_lines[0].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(
            f"{source} is not a reprotorch trace: its first line is not a JSON header "
            f"(expected a JSON Lines file written by reprotorch.Tracer)"
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ValueError(
            f"{source} is not a reprotorch trace: the header has no "
            f"\"format\": \"{FORMAT_NAME}\" (expected a file written by reprotorch.Tracer)"
        )
    if header.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"{source} is trace format version {header.get('version')!r}; this reprotorch reads "
            f"version {FORMAT_VERSION}. Use the reprotorch version that wrote it."
        )
    first_step = header.get("first_step", 0)
    if isinstance(first_step, bool) or not isinstance(first_step, int) or first_step < 0:
        raise ValueError(
            f"{source} has a corrupt header: 'first_step' must be an integer >= 0, got "
            f"{first_step!r}"
        )
    algorithm = header.get("fingerprint")
    if algorithm != ALGORITHM:
        raise ValueError(
            f"{source} uses fingerprint algorithm {algorithm!r}; this reprotorch computes "
            f"{ALGORITHM!r}, so its fingerprints cannot be compared"
        )
    trace = Trace(header=header, path=path, truncated=truncated)
    for number, line in enumerate(complete_lines[1:], start=2):
        if not line.strip():
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(
                f"{source} is corrupt at line {number}: {exc}. Only the last line of a trace "
                "may be incomplete (a killed run); a bad line in the middle means the file "
                "was damaged or written by something else."
            ) from None
        obj = _validate_event(obj, f"{source} line {number}")
        (trace.marks if "mark" in obj else trace.events).append(obj)
    if truncated:
        # Every proper prefix of a JSON object is invalid JSON, so a last line that
        # parses was cut only at its newline: keep it.
        try:
            obj = json.loads(lines[-1].decode("utf-8"))
            obj = _validate_event(obj, f"{source} last line")
        except (UnicodeDecodeError, ValueError):
            pass
        else:
            (trace.marks if "mark" in obj else trace.events).append(obj)
            trace.truncated = False
    return trace


def load_trace(path: str | os.PathLike[str]) -> Trace:
    """Read a trace written by :class:`~reprotorch.Tracer`.

    A file cut off mid-line (a killed run) loads up to its last whole event and
    has ``truncated=True``. Anything that is not a reprotorch trace -- a pickle, a
    binary or empty file, a foreign JSON file, a corrupt line in the middle --
    raises ``ValueError`` saying what is wrong. Never unpickles.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_trace() expects a path (str or os.PathLike), got {type(path).__name__}")
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        ranks = find_rank_traces(p)
        hint = (
            f"; this run wrote one file per rank: {', '.join(str(r) for r in ranks)}"
            if ranks
            else ""
        )
        raise FileNotFoundError(f"trace file {str(p)!r} does not exist{hint}") from None
    except IsADirectoryError:
        raise ValueError(f"{str(p)!r} is a directory, not a trace file") from None
    return parse_trace_lines(raw, repr(str(p)), str(p))
