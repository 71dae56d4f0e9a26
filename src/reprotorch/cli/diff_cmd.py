"""``reprotorch diff A B``: what differs between two manifests, two traces or two RNG-state files.

The kind is read from each file's ``format`` field, never guessed from its
name: two manifests give the reproducibility-relevant differences, most
important first; two traces give their first divergence with its likely cause;
two RNG states give the generators whose states differ.

Exit status: 0 the same, 1 different, 2 error (unreadable, corrupt, or two kinds).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from . import CLIError

_KINDS = "reprotorch manifest, trace or RNG-state file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``reprotorch diff``."""
    parser.add_argument("a", metavar="A", help="manifest, trace or RNG-state file")
    parser.add_argument("b", metavar="B", help="a file of the same kind")
    parser.add_argument("--json", action="store_true", help="print the differences as one JSON document")


def detect_kind(path: str) -> str:
    """``"manifest"``, ``"trace"`` or ``"rng_state"``, from the file's own format field."""
    from .._io import read_json_document
    from ..manifest import FORMAT_NAME as MANIFEST_FORMAT
    from ..state import FORMAT_NAME as RNG_FORMAT

    p = Path(path)
    if not p.exists():
        raise CLIError(f"{path!r} does not exist; expected a {_KINDS}")
    if p.is_dir():
        raise CLIError(f"{path!r} is a directory; expected a {_KINDS}")
    with open(p, "rb") as handle:
        head = handle.read(1 << 16)
    first_line = head.split(b"\n", 1)[0]
    try:
        header = json.loads(first_line)
    except ValueError:
        header = None
    if isinstance(header, dict) and header.get("format") == "reprotorch.trace":
        return "trace"
    document = read_json_document(p, kind=_KINDS)
    fmt = document.get("format") if isinstance(document, dict) else None
    if fmt == MANIFEST_FORMAT:
        return "manifest"
    if fmt == RNG_FORMAT:
        return "rng_state"
    raise CLIError(f"{path!r} is not a {_KINDS} (its format field is {fmt!r})")


def _diff_manifests(a: str, b: str) -> tuple[bool, str, dict[str, Any]]:
    from ..manifest import diff_manifests

    diffs = diff_manifests(a, b)
    if not diffs:
        return True, "manifests agree on everything that can change a run's numbers", {"differences": []}
    width = max(len(d.key) for d in diffs)
    lines = [f"{len(diffs)} difference(s), most important first:"]
    for d in diffs:
        lines.append(f"  {str(d.importance).upper():<6}  {d.key.ljust(width)}  {_short(d.a)} -> {_short(d.b)}")
    return False, "\n".join(lines), {"differences": [d.to_dict() for d in diffs]}


def _short(value: Any) -> str:
    if value is None:
        return "(absent)"
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _diff_traces(a: str, b: str) -> tuple[bool, str, dict[str, Any]]:
    from ..tracing import compare_traces, load_trace

    ta, tb = load_trace(a), load_trace(b)
    notes: list[str] = []
    divergence = compare_traces(ta, tb, notes=notes)
    if divergence is not None:
        return False, str(divergence), {"divergence": divergence.to_dict(), "notes": notes}
    # The notes say what "identical" rests on: a trace without an end mark (a killed
    # run), an unused generator that differs, steps only one trace covers (a resumed run).
    if ta.first_step == tb.first_step:
        text = f"traces identical: {ta.num_steps} steps (fingerprint {ta.digest})"
        details: dict[str, Any] = {"steps": ta.num_steps, "fingerprint": ta.digest}
    else:
        start = max(ta.first_step, tb.first_step)
        steps = min(ta.first_step + ta.num_steps, tb.first_step + tb.num_steps) - start
        text = f"traces identical on the {steps} steps both cover (from step {start})"
        details = {"steps": steps, "first_step": start, "fingerprint": None}
    text += "".join(f"\n  note: {n}" for n in notes)
    return True, text, {**details, "divergence": None, "notes": notes}


def _diff_rng_states(a: str, b: str) -> tuple[bool, str, dict[str, Any]]:
    from ..state import RNGState

    sa, sb = RNGState.load(a), RNGState.load(b)
    rows: list[dict[str, Any]] = []
    for kind, left, right in (("source", sa.sources, sb.sources), ("generator", sa.generators, sb.generators)):
        for name in sorted(set(left) | set(right)):
            if name not in left or name not in right:
                rows.append({"kind": kind, "name": name, "difference": f"only in {'B' if name not in left else 'A'}"})
            elif left[name] != right[name]:
                rows.append({"kind": kind, "name": name, "difference": "state differs"})
    same_names = sorted((set(sa.sources) & set(sb.sources)) - {r["name"] for r in rows if r["kind"] == "source"})
    if not rows:
        return True, f"RNG states identical ({', '.join(sorted(sa.sources)) or 'no sources'})", {"differences": []}
    lines = [f"{len(rows)} generator(s) differ:"]
    lines += [f"  {r['kind']} {r['name']}: {r['difference']}" for r in rows]
    if same_names:
        lines.append(f"identical: {', '.join(same_names)}")
    return False, "\n".join(lines), {"differences": rows}


def run(args: argparse.Namespace) -> int:
    """Compare A and B; print the differences; return 0 (same) or 1 (different)."""
    kind_a, kind_b = detect_kind(args.a), detect_kind(args.b)
    if kind_a != kind_b:
        raise CLIError(f"cannot compare a {kind_a.replace('_', ' ')} ({args.a!r}) with a "
                       f"{kind_b.replace('_', ' ')} ({args.b!r}); give two files of the same kind")
    compare = {"manifest": _diff_manifests, "trace": _diff_traces, "rng_state": _diff_rng_states}[kind_a]
    same, text, details = compare(args.a, args.b)
    if args.json:
        print(json.dumps({"format": "reprotorch.diff", "version": 1, "kind": kind_a, "same": same, **details}))
    else:
        print(text)
    return 0 if same else 1
