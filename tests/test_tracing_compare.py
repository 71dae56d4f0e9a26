"""Trace a small real CNN, break reproducibility in known ways, and check the report names it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from tracing_scripts.cnn import train

import reprotorch
from reprotorch import Divergence, compare_traces, load_trace

MODES = ["model", "global"]


def prefix(mode: str) -> str:
    """Module names: model mode uses named_modules(); global mode prefixes the root's class."""
    return "" if mode == "model" else "Net."


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    base = tmp_path_factory.mktemp("baseline")
    for mode in MODES:
        out[mode] = base / f"{mode}.jsonl"
        train(str(out[mode]), mode=mode)
    return out


@pytest.mark.parametrize("mode", MODES)
def test_identical_runs_compare_as_none(baselines: dict[str, Path], tmp_path: Path, mode: str) -> None:
    again = tmp_path / "again.jsonl"
    train(str(again), mode=mode)
    notes: list[str] = []
    assert compare_traces(baselines[mode], again, notes=notes) is None
    assert notes == []
    a, b = load_trace(baselines[mode]), load_trace(again)
    assert a.num_steps == b.num_steps == 8
    assert a.complete and not a.truncated
    assert a.digest == b.digest
    phases = {e["phase"] for e in a.events}
    assert phases == {"rng", "data", "forward", "loss", "backward", "optimizer"}
    # the comparison is not vacuous: the same runs with another seed differ
    other = tmp_path / "other.jsonl"
    train(str(other), mode=mode, seed=1)
    assert compare_traces(baselines[mode], other) is not None
    assert load_trace(other).digest != a.digest


@pytest.mark.parametrize("mode", MODES)
def test_input_perturbed_at_step_3_is_data_at_step_3(baselines: dict[str, Path], tmp_path: Path,
                                                     mode: str) -> None:
    path = tmp_path / "b.jsonl"
    train(str(path), mode=mode, perturb_input_step=3)
    d = compare_traces(baselines[mode], path)
    assert isinstance(d, Divergence)
    assert (d.step, d.phase, d.tensor, d.kind) == (3, "data", "input.0", "differs")
    assert d.module == ("" if mode == "model" else "Net")
    assert d.magnitude is not None and d.magnitude["sum"] == pytest.approx(1e-3, rel=1e-3)
    assert "inputs differ at step 3" in d.hint


@pytest.mark.parametrize("mode", MODES)
def test_parameter_moved_one_ulp_before_step_5(baselines: dict[str, Path], tmp_path: Path,
                                               mode: str) -> None:
    path = tmp_path / "b.jsonl"
    train(str(path), mode=mode, nudge_param_step=5)
    d = compare_traces(baselines[mode], path)
    assert d is not None
    # bn1.weight[0] moved: conv1 (before it) still matches, bn1's output is the first difference
    assert (d.step, d.phase, d.module, d.call, d.tensor) == (5, "forward", prefix(mode) + "bn1", 0, "output")
    assert d.a is not None and d.b is not None
    assert d.a["fingerprint"] != d.b["fingerprint"]
    assert d.a["shape"] == [16, 8, 16, 16] and d.a["dtype"] == "float32"
    mag = d.magnitude
    assert mag is not None and 0 < abs(mag["sum"]) < 1e-3  # tiny, but measured
    assert f"forward output of `{prefix(mode)}bn1`" in d.hint


@pytest.mark.parametrize("mode", MODES)
def test_dropout_rng_difference_is_phase_rng(baselines: dict[str, Path], tmp_path: Path,
                                             mode: str) -> None:
    path = tmp_path / "b.jsonl"
    train(str(path), mode=mode, extra_rng_step=3)  # one extra draw before step 3 starts
    d = compare_traces(baselines[mode], path)
    assert d is not None
    assert (d.step, d.phase, d.tensor, d.module) == (3, "rng", "torch", None)
    assert "differs at the start of step 3" in d.hint
    # the RNG difference is reported before the values it goes on to change
    trace_b = load_trace(path)
    later = [e for e in trace_b.events if e["step"] == 3 and e["phase"] == "forward"
             and e["module"] == prefix(mode) + "drop"]
    base_drop = [e for e in load_trace(baselines[mode]).events if e["step"] == 3
                 and e["phase"] == "forward" and e["module"] == prefix(mode) + "drop"]
    assert later[0]["fp"] != base_drop[0]["fp"]


@pytest.mark.parametrize("mode", MODES)
def test_run_stopped_early_says_so(baselines: dict[str, Path], tmp_path: Path, mode: str) -> None:
    path = tmp_path / "short.jsonl"
    train(str(path), mode=mode, steps=4)
    for a, b, short in ((baselines[mode], path, "B"), (path, baselines[mode], "A")):
        d = compare_traces(a, b)
        assert d is not None
        assert (d.step, d.phase, d.kind) == (4, "end", "ended_early")
        assert d.module is None and d.tensor is None
        assert f"{short} (short.jsonl) stopped after 4 completed step(s)" in d.hint
        assert "closed normally" in d.hint
        assert "ended early" in str(d)


def test_alignment_is_by_key_not_position(baselines: dict[str, Path], tmp_path: Path) -> None:
    # extra tensor operations outside every module: a different op sequence, same trace
    extra = tmp_path / "extra_ops.jsonl"
    train(str(extra), mode="model", extra_ops=True)
    assert compare_traces(baselines["model"], extra) is None
    # an extra module call at step 2: named as present in one run only, not as a cascade
    path = tmp_path / "extra_call.jsonl"
    train(str(path), mode="model", extra_module_step=2)
    d = compare_traces(baselines["model"], path)
    assert d is not None
    assert (d.kind, d.step, d.phase, d.module, d.call) == ("only_in_b", 2, "forward", "fc", 1)
    assert d.a is None and d.b is not None
    assert "different code paths" in d.hint
    rev = compare_traces(path, baselines["model"])
    assert rev is not None and (rev.kind, rev.step, rev.module, rev.call) == ("only_in_a", 2, "fc", 1)


def test_every_n_steps(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    train(str(a), mode="model", every=2)
    train(str(b), mode="model", every=2, perturb_input_step=3)
    ta = load_trace(a)
    assert {e["step"] for e in ta.events if e["phase"] != "rng"} == {0, 2, 4, 6}
    assert {e["step"] for e in ta.events if e["phase"] == "rng"} == {0, 2, 4, 6, 8}
    assert ta.num_steps == ta.completed_steps == 8
    d = compare_traces(a, b)
    # step 3 was not recorded; its effect shows in the first recorded step after it
    assert d is not None and d.step == 4 and d.phase == "forward"
    assert d.module == "conv1"


def test_record_subset_and_notes_on_differing_records(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    train(str(a), mode="model", record=("grads",))
    train(str(b), mode="model")
    assert {e["phase"] for e in load_trace(a).events} == {"backward"}
    notes: list[str] = []
    assert compare_traces(a, b, notes=notes) is None
    assert any("record different things" in n for n in notes)


def test_unused_generator_is_a_note_used_one_a_divergence(tmp_path: Path) -> None:
    """Python's generator in different states in the two runs: harmless unless drawn from."""
    c, e = tmp_path / "c.jsonl", tmp_path / "e.jsonl"
    for path, state in ((c, 1), (e, 2)):
        random.seed(state)
        with reprotorch.trace(path=str(path)) as tracer:
            train(None, tracer=tracer, seed_python=False)
    notes: list[str] = []
    assert compare_traces(c, e, notes=notes) is None
    assert any("`python`" in n and "neither run drew from it" in n for n in notes)
    fps = {load_trace(p).events[0]["fp"] for p in (c, e)}
    assert len(fps) == 2  # the states really did differ

    f, g = tmp_path / "f.jsonl", tmp_path / "g.jsonl"
    for path, state in ((f, 1), (g, 2)):
        random.seed(state)
        with reprotorch.trace(path=str(path)) as tracer:
            train(None, tracer=tracer, seed_python=False, steps=2)
            random.random()  # drawn from: now the difference counts
    d = compare_traces(f, g)
    assert d is not None and (d.phase, d.tensor, d.step) == ("rng", "python", 0)


def test_divergence_report_and_dict(baselines: dict[str, Path], tmp_path: Path) -> None:
    path = tmp_path / "b.jsonl"
    train(str(path), mode="model", nudge_param_step=5)
    d = compare_traces(load_trace(baselines["model"]), load_trace(path))
    assert d is not None
    doc = d.to_dict()
    assert json.loads(json.dumps(doc)) == doc
    assert set(doc) >= {"step", "phase", "module", "tensor", "a", "b", "hint", "notes", "magnitude"}
    assert doc["a"]["fingerprint"].startswith("xxh3-128:")
    text = str(d)
    assert text.splitlines()[0] == "first divergence at step 5, phase forward: `bn1`, tensor `output`"
    assert "hint:" in text and "sum=" in text and "(relative" in text


def test_compare_rejects_what_is_not_a_trace(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="trace path or a Trace"):
        compare_traces(42, "x.jsonl")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="notes must be a list"):
        compare_traces("a", "b", notes=())  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        compare_traces(tmp_path / "missing.jsonl", tmp_path / "missing.jsonl")


# --------------------------------------------------------------------------- resumed runs (first_step)


@pytest.mark.parametrize("mode", MODES)
def test_a_resumed_trace_compares_over_the_steps_both_cover(baselines: dict[str, Path], tmp_path: Path,
                                                            mode: str) -> None:
    path = tmp_path / "resumed.jsonl"
    train(str(path), mode=mode, trace_from=3)  # as a run resumed after 3 completed steps traces
    t = load_trace(path)
    assert t.header["first_step"] == t.first_step == 3
    # numbered like the uninterrupted run (plus the RNG snapshot at the start of step 8)
    assert {e["step"] for e in t.events if e["phase"] != "rng"} == {3, 4, 5, 6, 7}
    assert {e["step"] for e in t.events if e["phase"] == "rng"} == {3, 4, 5, 6, 7, 8}
    assert (t.completed_steps, t.num_steps, t.end_step) == (5, 5, 8)
    assert [m["step"] for m in t.marks if m["mark"] == "step"] == [3, 4, 5, 6, 7]
    full = load_trace(baselines[mode])
    assert full.first_step == 0 and full.end_step == 8
    # The same events at the same steps: the resumed trace is the tail of the full one.
    assert [e for e in full.events if e["step"] >= 3] == t.events
    for a, b in ((full, t), (t, full)):  # either order: steps 0-2 are a note, not a divergence
        notes: list[str] = []
        assert compare_traces(a, b, notes=notes) is None
        assert any("starts at step 3" in n and "steps 0-2 are in" in n and "only, not compared" in n for n in notes)
    assert t.digest != full.digest  # a digest covers what the trace holds


def test_a_difference_after_the_resume_is_named_at_its_absolute_step(baselines: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    path = tmp_path / "resumed.jsonl"
    train(str(path), mode="model", trace_from=3, perturb_input_step=5)
    d = compare_traces(baselines["model"], path)
    assert d is not None and (d.step, d.phase, d.kind) == (5, "data", "differs")
    assert "inputs differ at step 5" in d.hint
    assert any("starts at step 3" in n for n in d.notes)


def test_a_resumed_run_that_stops_early_says_at_which_step(baselines: dict[str, Path],
                                                           tmp_path: Path) -> None:
    path = tmp_path / "resumed_short.jsonl"
    train(str(path), mode="model", trace_from=3, steps=6)
    d = compare_traces(baselines["model"], path)
    assert d is not None and (d.step, d.phase, d.kind) == (6, "end", "ended_early")
    assert d.b == {"steps": 3, "complete": True, "first_step": 3, "end_step": 6}
    assert d.a is not None and d.a["end_step"] == 8
    assert "stopped before step 6 while A (model.jsonl) went on to step 8" in d.hint
    assert "3 steps (from step 3), closed normally" in str(d)


def test_traces_that_share_no_step_cannot_be_compared(tmp_path: Path) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    train(str(first), mode="model", steps=3)  # steps 0-2: the part before the checkpoint
    train(str(second), mode="model", trace_from=3, steps=5)  # steps 3-4: the resumed part
    with pytest.raises(ValueError, match="covers steps 0-2 and B .* covers steps 3-4: they share no step"):
        compare_traces(first, second)


def test_every_counts_from_step_0_in_a_resumed_trace(tmp_path: Path) -> None:
    full, resumed = tmp_path / "full.jsonl", tmp_path / "resumed.jsonl"
    train(str(full), mode="model", every=2)
    train(str(resumed), mode="model", every=2, trace_from=3)
    t = load_trace(resumed)
    # step 3 is not a multiple of 2: not recorded
    assert {e["step"] for e in t.events if e["phase"] != "rng"} == {4, 6}
    assert {e["step"] for e in t.events if e["phase"] == "rng"} == {4, 6, 8}
    assert compare_traces(full, resumed) is None
