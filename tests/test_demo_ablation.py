"""``reprotorch demo --quick``: every row's verdict, where it diverges, and the three output files.

One real quick ablation (fresh training processes, as the command runs them)
is shared by the tests of this module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from reprotorch.demo.ablation import QUICK, ROWS, render_markdown
from reprotorch.demo.plot import COLUMNS, PANEL_H, PANEL_W, RED
from reprotorch.demo.png import read_png

CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    env = dict(os.environ)
    env.pop("PYTHONHASHSEED", None)  # the demo must set it for its runs itself
    proc = subprocess.run(
        [sys.executable, "-m", "reprotorch", "demo", "--quick", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    return proc, out


@pytest.fixture(scope="module")
def doc(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "ablation.json").read_text())


def rows_of(doc):
    return {row["key"]: row for row in doc["rows"]}


def test_command_names_its_folder_and_prints_the_table(quick_run, doc):
    proc, out = quick_run
    assert f"wrote ablation.md, ablation.json and ablation.png to {out.resolve()}" in proc.stdout
    assert "| # | control turned off |" in proc.stdout
    # progress: 12 runs (16 with CUDA), two of them stopped and resumed in a second process
    total = 18 if CUDA else 14
    assert f"[{total}/{total}]" in proc.stderr


def test_every_row_is_reported(doc):
    assert [row["key"] for row in doc["rows"]] == list(ROWS)
    assert doc["settings"]["total_steps"] == QUICK.total_steps
    assert doc["format"] == "reprotorch.demo.ablation" and doc["version"] == 1


def test_all_controls_on_is_bitwise_identical_across_workers_and_resume(doc):
    row = rows_of(doc)["all"]
    assert row["status"] == "identical" and row["divergence"] is None
    a, b = row["a"], row["b"]
    assert a["workers"] == 0 and a["stopped_and_resumed_at"] is None
    assert b["workers"] == 2 and b["stopped_and_resumed_at"] == QUICK.stop_step
    assert a["fingerprint"] == b["fingerprint"] and a["fingerprint"].startswith("xxh3-128:")
    assert a["losses"] == b["losses"] and len(a["losses"]) == QUICK.total_steps
    assert a["map50"] == b["map50"] is not None
    assert a["process_wall_s"] > 0 and b["process_wall_s"] > 0


# On CPU each of these rows diverges, and the traces say where (step, phase, generator or input).
EXPECTED = {
    "python": (0, "rng", "python"),
    "numpy": (0, "rng", "numpy"),
    "torch": (0, "rng", "torch"),
    "hashseed": (0, "data", None),  # the class indices (heatmap channels) differ
    "data": (0, "data", None),  # the augmented images differ
    "resume": (QUICK.stop_step, "rng", "torch"),  # reseeded instead of restored
}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_row_diverges_when_its_control_is_off(doc, key):
    row = rows_of(doc)[key]
    step, phase, module = EXPECTED[key]
    assert row["status"] == "diverged", row
    assert row["a"]["fingerprint"] != row["b"]["fingerprint"]
    d = row["divergence"]
    assert (d["step"], d["phase"]) == (step, phase)
    if module is not None:  # the generator's name
        assert module in (d["module"], d["tensor"])
    # the loss curves agree up to the divergence and part no earlier
    first_loss = row["first_loss_difference"]
    assert first_loss is not None and first_loss >= step
    if key == "resume":
        assert row["a"]["losses"][:step] == row["b"]["losses"][:step]


def test_hashseed_row_changes_the_class_order(doc):
    row = rows_of(doc)["hashseed"]
    assert (row["a"]["pythonhashseed"], row["b"]["pythonhashseed"]) == ("0", "1")
    assert sorted(row["a"]["classes"]) == sorted(row["b"]["classes"])
    assert row["a"]["classes"] != row["b"]["classes"]
    assert "heatmap" in f"{row['divergence']['module']} {row['divergence']['tensor']}"


def test_cuda_rows_without_a_gpu(doc):
    for key in ("cuda", "cudnn"):
        row = rows_of(doc)[key]
        if CUDA:
            assert row["status"] in ("identical", "diverged")
        else:
            assert row["status"] == "not applicable"
            assert row["reason"] == "not applicable: no CUDA device"
            assert "a" not in row  # nothing was simulated


def test_markdown_states_what_the_json_says(quick_run, doc):
    _, out = quick_run
    md = (out / "ablation.md").read_text()
    assert md == render_markdown(doc)
    lines = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| #")]
    assert len(lines) == len(ROWS)
    for line, row in zip(lines, doc["rows"]):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1] == row["control"]
        if row["status"] == "diverged":
            d = row["divergence"]
            assert cells[3] == "diverged"
            assert cells[4].startswith(f"step {d['step']} · {d['phase']}")
        elif row["status"] == "identical":
            assert cells[3].startswith("**bitwise identical**") and row["a"]["fingerprint"] in cells[3]
        else:
            assert cells[3] == row["reason"]


def test_png_has_a_panel_per_run_row_and_divergence_markers(quick_run, doc):
    _, out = quick_run
    width, height, rgb = read_png((out / "ablation.png").read_bytes())
    ran = [row for row in doc["rows"] if row["status"] != "not applicable"]
    panel_rows = -(-len(ran) // COLUMNS)
    assert width == COLUMNS * PANEL_W
    assert panel_rows * PANEL_H < height <= panel_rows * PANEL_H + 60
    pixels = {tuple(rgb[i : i + 3]) for i in range(0, len(rgb), 3)}
    assert RED in pixels  # divergence markers are drawn
    # the resume row's marker sits at its divergence step, not at 0: a red column inside its panel
    index = [row["key"] for row in ran].index("resume")
    x0, y0 = (index % COLUMNS) * PANEL_W, height - panel_rows * PANEL_H + (index // COLUMNS) * PANEL_H
    red_columns = {
        x for x in range(x0 + 60, x0 + PANEL_W - 20) for y in range(y0 + 120, y0 + 180)
        if tuple(rgb[3 * (y * width + x) : 3 * (y * width + x) + 3]) == RED
    }
    assert red_columns, "no divergence marker inside the resume panel"


def test_unknown_rows_are_a_usage_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "reprotorch", "demo", "--rows", "python,bogus", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "unknown rows ['bogus']" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "ablation.json").exists()


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"rows": "python,all"}, TypeError, "rows must be a list of row names"),
        ({"rows": ["python", 3]}, TypeError, "rows must be a list of row names"),
        ({"rows": ["python", "bogus"]}, ValueError, r"unknown rows \['bogus'\]"),
        ({"rows": []}, ValueError, "rows is empty"),
        ({"quick": "yes"}, TypeError, "quick must be a bool"),
        ({"jobs": 0}, ValueError, "jobs must be a positive int"),
        ({"jobs": 1.5}, TypeError, "jobs must be a positive int"),
        ({"timeout_s": 0}, ValueError, "timeout_s must be a positive number"),
        ({"progress": "stderr"}, TypeError, "progress must be a callable"),
    ],
)
def test_run_ablation_rejects_bad_arguments_before_writing_anything(tmp_path, kwargs, exc, match):
    from reprotorch.demo import run_ablation

    with pytest.raises(exc, match=match):
        run_ablation(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_rows_are_reported_once_in_table_order_and_json_mode_names_the_folder(tmp_path):
    # The CUDA rows start no training on a machine without CUDA, so this costs about a second there.
    if CUDA:
        pytest.skip("on a CUDA machine these rows train; the quick ablation above covers them")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "reprotorch", "demo", "--quick", "--rows", "cudnn,cuda,cudnn", "--json",
         "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # stdout is exactly one JSON document
    assert [row["key"] for row in doc["rows"]] == ["cuda", "cudnn"]
    assert proc.stderr.rstrip().splitlines()[-1] == (
        f"reprotorch demo: wrote ablation.md, ablation.json and ablation.png to {out.resolve()}"
    )


def test_outputs_go_where_asked(quick_run):
    _, out = quick_run
    assert sorted(p.name for p in Path(out).iterdir() if p.is_file()) == ["ablation.json", "ablation.md", "ablation.png"]
