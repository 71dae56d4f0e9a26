"""Align two traces and name their first difference.

Events are aligned by their key ``(step, phase, module, call, tensor)``, never by
position, so runs that executed different operation sequences -- an extra metric
computation, a different number of kernel launches -- still line up wherever they
observed the same thing. (PyTorch's op-hashing debug mode compares logs position
by position and gives up with "log lengths don't match".)

Which difference is "first"
    The earliest in the order the first trace (``a``) recorded its events. An
    event present in only one trace counts as a difference at the position where
    it would have been (right after the last event both traces share that precedes
    it in ``b``). RNG states are snapshots at the *start* of a step, so an RNG
    difference at step ``k`` comes before every observed value of step ``k``.

When RNG states count
    A generator's state can differ between runs without mattering: Python's
    ``random`` is seeded from OS entropy at start-up, and a program that never
    draws from it stays different forever, harmlessly. So:

    * a generator whose state never changes across the steps of either run (it
      was never drawn from) is not a divergence; its difference becomes a note;
    * a difference at the start of step ``k`` that has disappeared at the next
      snapshot (both runs reset the generator to the same state -- typically the
      program seeding after a tracer started at interpreter start) is a note too;
    * otherwise an RNG difference at the start of step ``k`` is a divergence of
      phase ``rng`` at step ``k``, unless an observed value (data, forward, loss,
      backward, optimizer) differs at an earlier step.

Traces that start at different steps
    A run resumed from a checkpoint traces with ``Tracer(..., first_step=k)``, so
    its steps carry the numbers of the uninterrupted run. Two traces that start
    at different steps are compared over the steps both cover (from the later
    first step on); the steps only the earlier trace covers are a note, not a
    divergence. Where they end is compared as usual: a trace that stops at an
    earlier step "ended early". Traces that share no step at all cannot be
    compared (``ValueError``).

Notes (unused generators that differ, reseeded generators, header differences,
values that could not be hashed, a trace without an end mark, steps covered by
one trace only because the other started later) are returned in
``Divergence.notes`` and, when a list is passed as ``notes=``, appended to it --
which is how a caller gets them when the traces match and the result is ``None``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .format import RECORD_CHOICES, Trace, event_key, load_trace

__all__ = ["Divergence", "compare_traces", "DIVERGENCE_PHASES"]

#: Every value ``Divergence.phase`` can take: the recorded phases, plus ``end``
#: when one trace stops before the other.
DIVERGENCE_PHASES = ("rng", "data", "forward", "loss", "backward", "optimizer", "end")

_SUMMARY_KEYS = ("fp", "sum", "maxabs", "dtype", "shape", "error")


def _side(event: dict[str, Any] | None) -> dict[str, Any] | None:
    if event is None:
        return None
    side = {("fingerprint" if k == "fp" else k): event[k] for k in _SUMMARY_KEYS if k in event}
    return side


def _number(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x)


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.9g}"
    return str(x)


@dataclass
class Divergence:
    """The first point where two traces differ.

    ``step`` and ``phase`` (one of :data:`DIVERGENCE_PHASES`) locate it;
    ``module``, ``call`` and ``tensor`` name the value (the generator's name for
    phase ``rng``; ``None`` for ``end``). ``a`` and ``b`` are the two sides'
    summaries -- ``{"fingerprint", "sum", "maxabs", "dtype", "shape"}``, or
    ``None`` for the side where the value is missing; for ``end`` they hold each
    trace's ``{"steps", "complete", "first_step", "end_step"}`` (completed steps,
    end mark present, first step number, the step after the last completed one). ``kind`` is ``"differs"``, ``"only_in_a"``,
    ``"only_in_b"`` or ``"ended_early"``. ``hint`` is a plain-language guess at
    the cause, ``notes`` the comparison's notes. ``str()`` is a short report.
    """

    step: int
    phase: str
    module: str | None
    tensor: str | None
    a: dict[str, Any] | None
    b: dict[str, Any] | None
    hint: str
    kind: str = "differs"
    call: int | None = None
    notes: list[str] = field(default_factory=list)
    labels: tuple[str, str] = ("A", "B")

    @property
    def magnitude(self) -> dict[str, float] | None:
        """``b - a`` for the sum and max-abs summaries, when both sides have numbers."""
        if self.a is None or self.b is None:
            return None
        out = {}
        for key in ("sum", "maxabs"):
            x, y = _number(self.a.get(key)), _number(self.b.get(key))
            if x is not None and y is not None:
                out[key] = y - x
        return out or None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field (what ``--json`` output should carry)."""
        return {
            "step": self.step,
            "phase": self.phase,
            "module": self.module,
            "call": self.call,
            "tensor": self.tensor,
            "kind": self.kind,
            "a": self.a,
            "b": self.b,
            "magnitude": self.magnitude,
            "hint": self.hint,
            "notes": list(self.notes),
            "labels": list(self.labels),
        }

    def _where(self) -> str:
        if self.phase == "end":
            return "one run ended early"
        if self.phase == "rng":
            return f"generator `{self.tensor}`"
        module = f"`{self.module}`" if self.module else "the top-level module"
        call = f" call {self.call}" if self.call else ""
        return f"{module}{call}, tensor `{self.tensor}`"

    def __str__(self) -> str:
        la, lb = self.labels
        width = max(len(la), len(lb))
        lines = [f"first divergence at step {self.step}, phase {self.phase}: {self._where()}"]
        for label, side in ((la, self.a), (lb, self.b)):
            lines.append(f"  {label:<{width}}: {self._describe(side)}")
        mag = self.magnitude
        if mag:
            parts = []
            if "sum" in mag:
                a_sum = _number(self.a.get("sum")) if self.a else None
                rel = f" (relative {mag['sum'] / abs(a_sum):.3g})" if a_sum else ""
                parts.append(f"sum {mag['sum']:+.6g}{rel}")
            if "maxabs" in mag:
                parts.append(f"maxabs {mag['maxabs']:+.6g}")
            lines.append(f"  {'diff':<{width}}: " + ", ".join(parts) + f" ({lb} - {la})")
        lines.append(f"  hint: {self.hint}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _describe(self, side: dict[str, Any] | None) -> str:
        if side is None:
            return "(not recorded)"
        if self.phase == "end":
            state = "closed normally" if side.get("complete") else "no end mark (killed or crashed)"
            first = side.get("first_step") or 0
            span = f" (from step {first})" if first else ""
            return f"{side.get('steps')} steps{span}, {state}"
        parts = [str(side.get("fingerprint"))]
        for key in ("sum", "maxabs"):
            if key in side and side[key] is not None:
                parts.append(f"{key}={_fmt(side[key])}")
        if "dtype" in side:
            parts.append(f"{side['dtype']}{list(side.get('shape') or [])}")
        if side.get("error"):
            parts.append(f"error: {side['error']}")
        return "  ".join(parts)


# --------------------------------------------------------------------------- hints


def _name(module: str, tensor: str) -> str:
    return f"{module}.{tensor}" if module else tensor


def _hint(kind: str, phase: str, step: int, module: str | None, tensor: str | None,
          labels: tuple[str, str], extra: str = "") -> str:
    la, lb = labels
    mod = f"`{module}`" if module else "the top-level module"
    if kind in ("only_in_a", "only_in_b"):
        here, there = (la, lb) if kind == "only_in_a" else (lb, la)
        return (
            f"{phase} value {mod} / `{tensor}` was recorded at step {step} in {here} but not in "
            f"{there}: the runs took different code paths (control flow that depends on data, "
            "randomness or configuration)"
        )
    if phase == "data":
        return (
            f"inputs differ at step {step}: the data pipeline or augmentation randomness "
            "(sampler order, transforms, worker seeding, or different data files)"
        )
    if phase == "rng":
        cause = (
            "the runs were seeded differently, or something drew from it before tracing started"
            if step == 0
            else "something consumed random numbers differently before it"
        )
        return f"RNG state of `{tensor}` differs at the start of step {step}: {cause}"
    if phase == "forward":
        return (
            f"forward output of {mod} differs at step {step} while every value recorded before "
            "it matched (inputs, RNG states, earlier module outputs, parameters after the last "
            "optimizer step): a nondeterministic kernel in that module, or a change the trace "
            "cannot see (a parameter or buffer modified outside the optimizer, an operation "
            "between modules)"
        )
    if phase == "loss":
        return (
            f"loss differs at step {step} while every recorded module output matched: the loss "
            "is computed outside the traced modules, or from a value they do not return"
        )
    if phase == "backward":
        return (
            f"gradients differ (first `{_name(module or '', tensor or '')}`) at step {step} while "
            "the forward pass matched: a nondeterministic backward kernel (atomic adds in "
            "scatter/index_add/interpolate backward on GPU are the usual suspects; "
            "torch.use_deterministic_algorithms(True) names them)"
        )
    if phase == "optimizer":
        return (
            f"parameter `{_name(module or '', tensor or '')}` differs after the optimizer step "
            f"at step {step} while its gradient matched: the optimizer update (fused or foreach "
            "kernels, different hyper-parameters or optimizer state)"
        )
    return extra


# --------------------------------------------------------------------------- comparison


def _coerce(obj: Any, which: str) -> Trace:
    if isinstance(obj, Trace):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        return load_trace(obj)
    raise TypeError(
        f"compare_traces() argument {which!r} must be a trace path or a Trace from load_trace(), "
        f"got {type(obj).__name__}"
    )


def _label(t: Trace, default: str) -> str:
    return f"{default} ({Path(t.path).name})" if t.path else default


def _last_step(t: Trace) -> int:
    steps = [e["step"] for e in t.events] + [m["step"] for m in t.marks]
    return max(steps, default=-1)


def _header_notes(a: Trace, b: Trace, labels: tuple[str, str]) -> list[str]:
    notes = []
    for key, what in (("torch", "torch version"), ("world_size", "world size"),
                      ("scope", "tracing scope"), ("every", "recording interval (every)")):
        x, y = a.header.get(key), b.header.get(key)
        if x != y:
            notes.append(f"{what} differs: {labels[0]} has {x!r}, {labels[1]} has {y!r}")
    ra, rb = set(a.record), set(b.record)
    if ra != rb:
        notes.append(
            f"the traces record different things ({labels[0]}: {sorted(ra)}, {labels[1]}: "
            f"{sorted(rb)}); only {sorted(ra & rb)} were compared"
        )
    return notes


def _rng_points(t: Trace) -> dict[str, list[tuple[Any, str]]]:
    """Per generator, its snapshots in order: ``(step, fp)``, then ``("end", fp)``."""
    points: dict[str, list[tuple[Any, str]]] = {}
    for e in t.events:
        if e["phase"] == "rng" and isinstance(e.get("fp"), str):
            points.setdefault(e["tensor"], []).append((e["step"], e["fp"]))
    end = t.end_mark
    if end is not None and isinstance(end.get("rng"), dict):
        for name, fp in end["rng"].items():
            if isinstance(fp, str):
                points.setdefault(name, []).append(("end", fp))
    return points


def _steps_text(t: Trace) -> str:
    last = t.first_step + t.num_steps - 1
    if last < t.first_step:
        return f"no step from step {t.first_step}"
    return f"step {t.first_step}" if last == t.first_step else f"steps {t.first_step}-{last}"


def _common_start(a: Trace, b: Trace, labels: tuple[str, str], notes: list[str]) -> int:
    """The first step both traces cover; a note when one starts later (a resumed run)."""
    fa, fb = a.first_step, b.first_step
    if fa == fb:
        return fa
    start = max(fa, fb)
    stop = min(fa + a.num_steps, fb + b.num_steps)
    if stop <= start:
        raise ValueError(
            f"compare_traces: {labels[0]} covers {_steps_text(a)} and {labels[1]} covers "
            f"{_steps_text(b)}: they share no step, so there is nothing to compare. Compare "
            "traces of the same steps (for a stopped and resumed run, the part that covers "
            "the steps of the other trace)."
        )
    early, late = (labels[0], labels[1]) if fa < fb else (labels[1], labels[0])
    first = min(fa, fb)
    only = f"step {first} is" if start - 1 == first else f"steps {first}-{start - 1} are"
    notes.append(
        f"{late} starts at step {start} (a resumed run?) and {early} at step {first}: "
        f"{only} in {early} only, not compared; the comparison starts at step {start}"
    )
    return start


def _rng_divergence(a: Trace, b: Trace, labels: tuple[str, str], notes: list[str],
                    start: int = 0) -> tuple[int, str, str, str, bool] | None:
    """The first RNG difference that counts, at ``start`` or later: ``(step, source, fp_a, fp_b, at_end)``."""
    pa, pb = _rng_points(a), _rng_points(b)
    end_a, end_b = a.end_mark, b.end_mark
    same_end = end_a is not None and end_b is not None and end_a["step"] == end_b["step"]
    first: tuple[int, str, str, str, bool] | None = None
    order = list(pa) + [n for n in pb if n not in pa]
    for name in order:
        seq_a, seq_b = pa.get(name, []), pb.get(name, [])
        if not seq_a or not seq_b:
            continue
        used = len({fp for _, fp in seq_a}) > 1 or len({fp for _, fp in seq_b}) > 1
        map_b = dict(seq_b)
        common = [(s, fp, map_b[s]) for s, fp in seq_a
                  if s in map_b and (same_end if s == "end" else s >= start)]
        differing = [i for i, (_, x, y) in enumerate(common) if x != y]
        if not differing:
            continue
        if not used:
            notes.append(
                f"generator `{name}` differs between the runs but neither run drew from it (its "
                "state never changed), so it cannot have affected them; ignored"
            )
            continue
        for i in differing:
            step = common[i][0]
            if i + 1 < len(common) and common[i + 1][1] == common[i + 1][2]:
                nxt = common[i + 1][0]
                when = "the end of the run" if nxt == "end" else f"the start of step {nxt}"
                notes.append(
                    f"generator `{name}` differed at the start of step {step} but both runs had "
                    f"reset it to the same state by {when} (re-seeded); ignored"
                )
                continue
            at_end = step == "end"
            step_num = end_a["step"] if at_end and end_a is not None else step
            candidate = (step_num, name, common[i][1], common[i][2], at_end)
            if first is None or (candidate[0], candidate[4]) < (first[0], first[4]):
                first = candidate
            break
    return first


def compare_traces(a: Trace | str | os.PathLike[str], b: Trace | str | os.PathLike[str], *,
                   notes: list[str] | None = None) -> Divergence | None:
    """Compare two traces; return their first :class:`Divergence`, or ``None`` if they match.

    ``a`` and ``b`` are trace paths or :class:`~reprotorch.tracing.Trace` objects.
    Events are aligned by ``(step, phase, module, call, tensor)``; "first" is in
    ``a``'s recording order; RNG differences count as described in
    :mod:`reprotorch.tracing.compare`. Traces that start at different steps (a
    run resumed with ``Tracer(first_step=k)``) are compared over the steps both
    cover, and the others are a note; traces that share no step raise
    ``ValueError``. Pass ``notes=[]`` to receive the notes (unused generators
    that differ, header differences, ...) also when the traces match; they are in
    ``Divergence.notes`` otherwise as well.
    """
    if notes is not None and not isinstance(notes, list):
        raise TypeError(f"notes must be a list to append to, or None; got {type(notes).__name__}")
    ta, tb = _coerce(a, "a"), _coerce(b, "b")
    labels = (_label(ta, "A"), _label(tb, "B"))
    found_notes = _header_notes(ta, tb, labels)
    start = _common_start(ta, tb, labels, found_notes)
    phases = {RECORD_CHOICES[r] for r in set(ta.record) & set(tb.record)}
    every_a, every_b = ta.every, tb.every

    def comparable(e: dict[str, Any]) -> bool:
        return (e["phase"] != "rng" and e["phase"] in phases and e["step"] >= start
                and e["step"] % every_a == 0 and e["step"] % every_b == 0)

    index_a: dict[Any, int] = {}
    for pos, e in enumerate(ta.events):
        if comparable(e):
            index_a.setdefault(event_key(e), pos)
    index_b: dict[Any, dict[str, Any]] = {}
    for e in tb.events:
        if comparable(e):
            index_b.setdefault(event_key(e), e)

    end_a, end_b = ta.end_step, tb.end_step
    unhashed = 0
    candidates: list[tuple[tuple[Any, ...], Divergence]] = []

    # 1. The first event of `a` that differs or is missing from `b`.
    for pos, ea in enumerate(ta.events):
        if not comparable(ea):
            continue
        eb = index_b.get(event_key(ea))
        if eb is None:
            if ea["step"] >= end_b and end_b < end_a:
                candidates.append(((ea["step"], 1, pos), _ended(ta, tb, labels, short="b")))
            else:
                candidates.append(((ea["step"], 1, pos), _event_divergence("only_in_a", ea, None, labels)))
            break
        fa, fb = ea.get("fp"), eb.get("fp")
        if fa is None and fb is None:
            unhashed += 1
            continue
        if fa != fb:
            candidates.append(((ea["step"], 1, pos), _event_divergence("differs", ea, eb, labels)))
            break

    # 2. The first event of `b` missing from `a`, placed after the last event both share.
    last_common = -1.0
    for eb in tb.events:
        if not comparable(eb):
            continue
        pos_a = index_a.get(event_key(eb))
        if pos_a is not None:
            last_common = float(pos_a)
            continue
        order = (eb["step"], 1, last_common + 0.5)
        if eb["step"] >= end_a and end_a < end_b:
            candidates.append((order, _ended(ta, tb, labels, short="a")))
        else:
            candidates.append((order, _event_divergence("only_in_b", None, eb, labels)))
        break

    # 3. RNG state differences that count.
    if "rng" in phases:
        rng = _rng_divergence(ta, tb, labels, found_notes, start)
        if rng is not None:
            step, name, fa, fb, at_end = rng
            div = Divergence(
                step=step, phase="rng", module=None, tensor=name,
                a={"fingerprint": fa}, b={"fingerprint": fb},
                hint=(_hint("differs", "rng", step, None, name, labels) if not at_end else
                      f"RNG state of `{name}` differs at the end of the run (during step "
                      f"{step}): the runs drew different amounts of random numbers in their "
                      "last step, although every recorded value matched"),
                kind="differs", call=0, labels=labels,
            )
            candidates.append(((step, 2 if at_end else 0, -1), div))

    # 4. One run stopped early without any event showing it (e.g. nothing recorded).
    if end_a != end_b:
        short = "b" if end_b < end_a else "a"
        candidates.append(((min(end_a, end_b), 3, math.inf), _ended(ta, tb, labels, short=short)))

    if unhashed:
        found_notes.append(f"{unhashed} value(s) could not be fingerprinted in either run; not compared")
    for t, label in ((ta, labels[0]), (tb, labels[1])):
        if not t.complete:
            found_notes.append(
                f"{label} has no end mark: its run did not close the tracer (killed, crashed, "
                "or still running)" + (" and its last line was cut off" if t.truncated else "")
            )
    if notes is not None:
        notes.extend(found_notes)
    if not candidates:
        return None
    div = min(candidates, key=lambda c: c[0])[1]
    div.notes = list(found_notes)
    return div


def _event_divergence(kind: str, ea: dict[str, Any] | None, eb: dict[str, Any] | None,
                      labels: tuple[str, str]) -> Divergence:
    e = ea if ea is not None else eb
    assert e is not None
    return Divergence(
        step=e["step"], phase=e["phase"], module=e["module"], tensor=e["tensor"],
        a=_side(ea), b=_side(eb),
        hint=_hint(kind, e["phase"], e["step"], e["module"], e["tensor"], labels),
        kind=kind, call=e["call"], labels=labels,
    )


def _ended(ta: Trace, tb: Trace, labels: tuple[str, str], *, short: str) -> Divergence:
    s_trace, l_trace = (tb, ta) if short == "b" else (ta, tb)
    s_label, l_label = (labels[1], labels[0]) if short == "b" else (labels[0], labels[1])
    how = (
        "its tracer closed normally, so the program itself stopped (a shorter schedule, an "
        "early exit or a caught error)"
        if s_trace.complete
        else "its trace has no end mark, so it was killed or crashed"
    )
    if ta.first_step == tb.first_step == 0:
        counts = (f"{s_label} stopped after {s_trace.completed_steps} completed step(s) while "
                  f"{l_label} completed {l_trace.completed_steps}")
    else:  # step numbers say more than counts when a trace starts later
        counts = (f"{s_label} stopped before step {s_trace.end_step} while {l_label} went on to "
                  f"step {l_trace.end_step}")
    hint = f"{counts}; everything both recorded before that matched. {how}"

    def side(t: Trace) -> dict[str, Any]:
        return {"steps": t.completed_steps, "complete": t.complete,
                "first_step": t.first_step, "end_step": t.end_step}

    return Divergence(
        step=min(ta.end_step, tb.end_step), phase="end", module=None, tensor=None,
        a=side(ta), b=side(tb),
        hint=hint, kind="ended_early", call=None, labels=labels,
    )
