"""load_trace on files that are not (whole) reprotorch traces: each refused with a clear ValueError."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from reprotorch import load_trace

HEADER = {"format": "reprotorch.trace", "version": 1, "fingerprint": "xxh3-128", "rank": 0, "world_size": 1}
EVENT = {"step": 0, "phase": "forward", "module": "fc", "call": 0, "tensor": "output", "fp": "xxh3-128:00"}


def lines(*objs: object) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objs)


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (pickle.dumps(HEADER), "looks like a pickle"),
        (b"", "the file is empty"),
        (b"\n \n", "the file is empty"),
        (json.dumps(HEADER).encode()[:20], "ends inside its header line"),
        (b"not json\n", "first line is not a JSON header"),
        (lines({"format": "something.else"}), "the header has no"),
        (lines({**HEADER, "version": 2}), "trace format version 2"),
        (lines({**HEADER, "fingerprint": "sha256"}), "fingerprint algorithm 'sha256'"),
        (lines({**HEADER, "first_step": -2}), "'first_step' must be an integer >= 0, got -2"),
        (lines({**HEADER, "first_step": "3"}), "'first_step' must be an integer >= 0"),
        (lines(HEADER, EVENT)[:-5] + b"\n" + lines(EVENT), "corrupt at line 2"),
        (lines(HEADER, {**EVENT, "phase": "sideways"}), "unknown phase 'sideways'"),
        (lines(HEADER, {**EVENT, "step": "0"}), "field 'step' must be int"),
        (lines(HEADER, {**EVENT, "fp": 5}), "'fp' must be a string or null"),
        (lines(HEADER, {"mark": "pause", "step": 0}), "malformed mark"),
    ],
)
def test_what_is_not_a_trace_is_a_value_error(tmp_path: Path, raw: bytes, needle: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=needle.replace("(", r"\(")):
        load_trace(path)


def test_a_cut_last_line_is_dropped_and_a_header_without_first_step_starts_at_0(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(lines(HEADER, EVENT, {"mark": "step", "step": 0}) + json.dumps(EVENT).encode()[:-3])
    t = load_trace(path)
    assert t.truncated and not t.complete
    assert t.events == [EVENT] and t.completed_steps == 1
    assert (t.first_step, t.end_step, t.num_steps) == (0, 1, 1)
    # a last line cut exactly at its newline is whole: kept
    path.write_bytes(lines(HEADER, EVENT)[:-1])
    t = load_trace(path)
    assert not t.truncated and t.events == [EVENT]


def test_bad_path_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="expects a path"):
        load_trace(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is a directory"):
        load_trace(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_trace(tmp_path / "missing.jsonl")
