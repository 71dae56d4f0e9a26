"""reprotorch.demo.train: the seed document's flow, checkpoints, exact resume in a new process, bad input."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import reprotorch
from reprotorch.demo import DetectionConfig, train
from reprotorch.demo.checkpoint import load_checkpoint, save_checkpoint

TINY = {"num_train": 24, "num_val": 8, "batch_size": 8, "epochs": 2}  # 3 steps per epoch, 6 in all


def tiny(**kw) -> DetectionConfig:
    return DetectionConfig(**{**TINY, **kw})


def test_train_result_log_traces_and_checkpoint(tmp_path):
    result = train(tiny(), work_dir=tmp_path)
    assert result["steps"] == result["total_steps"] == 6
    assert result["seed"] == 1333 and not result["stopped"]
    assert result["fingerprint"].startswith("xxh3-128:")
    assert 0.0 <= result["map50"] <= 1.0
    assert len(result["losses"]) == 6 and all(v > 0 for v in result["losses"])
    assert result["fingerprint"] == reprotorch.fingerprint(load_checkpoint(result["checkpoint"])["model"])
    assert json.loads((tmp_path / "result.json").read_text())["fingerprint"] == result["fingerprint"]
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    steps, evaluation = log[:-1], log[-1]
    assert [r["step"] for r in steps] == list(range(1, 7))
    assert [r["loss"] for r in steps] == result["losses"]
    # the log carries the parameter fingerprint at each epoch's end and ends with mAP and fingerprint
    assert [r["step"] for r in steps if "fingerprint" in r] == [3, 6]
    assert steps[-1]["fingerprint"] == result["fingerprint"] != steps[2]["fingerprint"]
    assert evaluation == {"step": 6, "map50": result["map50"], "ap": result["ap"], "fingerprint": result["fingerprint"]}
    [(start, path)] = result["trace"]
    assert start == 0 and reprotorch.load_trace(path).num_steps == 6


def test_same_process_twice_is_identical_and_seed_matters(tmp_path):
    a = train(tiny(trace=False), work_dir=tmp_path / "a")
    b = train(tiny(trace=False), work_dir=tmp_path / "b")
    c = train(tiny(trace=False, seed=7), work_dir=tmp_path / "c")
    assert a["fingerprint"] == b["fingerprint"] and a["losses"] == b["losses"]
    assert c["fingerprint"] != a["fingerprint"]


def test_unseeded_source_continues_its_stream_between_runs(tmp_path):
    # The seed document's pipeline without torch.manual_seed: the second run in the same
    # process starts where the first left torch's generator.
    cfg = tiny(trace=False, data_seeding=False, seed_sources=("python", "numpy", "cuda"))
    a = train(cfg, work_dir=tmp_path / "a")
    b = train(cfg, work_dir=tmp_path / "b")
    assert a["fingerprint"] != b["fingerprint"]


def test_stop_writes_a_checkpoint_with_rng_and_loader_state(tmp_path):
    result = train(tiny(trace=False), work_dir=tmp_path, stop_after_step=4)
    assert result["stopped"] and result["steps"] == 4 and result["map50"] is None
    ckpt = load_checkpoint(result["checkpoint"])
    assert Path(result["checkpoint"]).name == "iter_4.pth"
    assert ckpt["step"] == 4 and ckpt["loader"]["epoch"] == 1 and ckpt["loader"]["batches"] == 1
    reprotorch.RNGState.from_dict(ckpt["rng"])  # a valid RNG state document
    assert ckpt["meta"]["seed"] == 1333 and ckpt["meta"]["exp_name"] == "shapes_centernet"

    plain = train(tiny(trace=False, checkpoint_rng=False), work_dir=tmp_path / "p", stop_after_step=2)
    assert "rng" not in load_checkpoint(plain["checkpoint"]) and "loader" not in load_checkpoint(plain["checkpoint"])


def test_checkpoint_interval_cuts_traces_and_checkpoints(tmp_path):
    result = train(tiny(checkpoint_interval=4), work_dir=tmp_path)
    assert [s for s, _ in result["trace"]] == [0, 4]
    assert sorted(p.name for p in tmp_path.glob("iter_*.pth")) == ["iter_4.pth", "iter_6.pth"]
    assert [reprotorch.load_trace(p).num_steps for _, p in result["trace"]] == [4, 2]


def _rng_fingerprint():
    return reprotorch.fingerprint(reprotorch.capture_rng_state().sources)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda d: train({"seed": 1}, work_dir=d), TypeError, "DetectionConfig"),
        (lambda d: train(tiny(), work_dir=3), TypeError, "work_dir must be a path"),
        (lambda d: train(tiny(), work_dir=d, stop_after_step=True), TypeError, "stop_after_step"),
        (lambda d: train(tiny(), work_dir=d, stop_after_step=7), ValueError, r"must be in \[1, 6\]"),
        (lambda d: train(tiny(), work_dir=d, stop_after_step=0), ValueError, r"must be in \[1, 6\]"),
        (lambda d: train(tiny(), work_dir=d, resume_from=d / "nope.pth"), FileNotFoundError, "does not exist"),
        (lambda d: train(tiny(device="cuda:0"), work_dir=d) if not torch.cuda.is_available() else
         train(tiny(device="nonsense"), work_dir=d), ValueError, "device"),
    ],
)
def test_bad_calls_fail_clearly_and_change_nothing(tmp_path, call, exc, match):
    before = _rng_fingerprint()
    settings = reprotorch.DeterminismSettings.capture()
    with pytest.raises(exc, match=match):
        call(tmp_path)
    assert _rng_fingerprint() == before
    assert reprotorch.DeterminismSettings.capture() == settings
    assert not (tmp_path / "log.jsonl").exists()


def test_resume_with_another_class_order_is_refused_before_anything_changes(tmp_path):
    # The class order a process builds depends on its PYTHONHASHSEED; a checkpoint made under
    # another one is refused -- before seeds, determinism flags or the work_dir are touched.
    stopped = train(tiny(trace=False), work_dir=tmp_path / "a", stop_after_step=2)
    ckpt = load_checkpoint(stopped["checkpoint"])
    ckpt["meta"]["classes"] = list(reversed(ckpt["meta"]["classes"]))
    ckpt["meta"]["hash_seed"] = "7"
    save_checkpoint(tmp_path / "other.pth", {k: v for k, v in ckpt.items() if k not in ("format", "version")})
    before = _rng_fingerprint()
    settings = reprotorch.DeterminismSettings.capture()
    with pytest.raises(reprotorch.ReproducibilityError, match="PYTHONHASHSEED differs.*it was '7'"):
        train(tiny(trace=False), work_dir=tmp_path / "b", resume_from=tmp_path / "other.pth")
    assert _rng_fingerprint() == before
    assert reprotorch.DeterminismSettings.capture() == settings
    assert not (tmp_path / "b").exists()


def test_resume_from_a_checkpoint_with_a_bad_rng_state_changes_nothing(tmp_path):
    stopped = train(tiny(trace=False), work_dir=tmp_path / "a", stop_after_step=2)
    ckpt = load_checkpoint(stopped["checkpoint"])
    ckpt["rng"] = {"format": "not an RNG state"}
    save_checkpoint(tmp_path / "bad.pth", {k: v for k, v in ckpt.items() if k not in ("format", "version")})
    before = _rng_fingerprint()
    with pytest.raises(ValueError, match="unreadable RNG state"):
        train(tiny(trace=False), work_dir=tmp_path / "b", resume_from=tmp_path / "bad.pth")
    assert _rng_fingerprint() == before
    assert not (tmp_path / "b").exists()


def test_a_resume_that_cannot_be_exact_says_so(tmp_path, caplog):
    # checkpoint_rng=True asks for an exact resume; the seed document's plain DataLoader
    # (data_seeding=False) has no position to restore, so the run drifts -- with a warning.
    caplog.set_level(logging.WARNING, logger="reprotorch.demo")
    plain = tiny(trace=False, data_seeding=False)
    full = train(plain, work_dir=tmp_path / "full")
    part = train(plain, work_dir=tmp_path / "r", stop_after_step=4)
    again = train(plain, work_dir=tmp_path / "r", resume_from=part["checkpoint"])
    assert again["fingerprint"] != full["fingerprint"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "resuming at step 4 (mid-epoch) is not exact" in warnings[0]
    assert "data_seeding=False" in warnings[0]

    caplog.clear()
    seeded = train(tiny(trace=False), work_dir=tmp_path / "s", stop_after_step=4)
    train(tiny(trace=False), work_dir=tmp_path / "s", resume_from=seeded["checkpoint"])
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_work_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="not a directory"):
        train(tiny(), work_dir=tmp_path / "f")


def test_resume_refuses_another_seed_or_batch_size(tmp_path):
    stopped = train(tiny(trace=False), work_dir=tmp_path, stop_after_step=2)
    with pytest.raises(ValueError, match="seed 1333, the config says 5"):
        train(tiny(seed=5, trace=False), work_dir=tmp_path, resume_from=stopped["checkpoint"])
    with pytest.raises(ValueError, match="batch_size=8, the config says 4"):
        train(tiny(batch_size=4, trace=False), work_dir=tmp_path, resume_from=stopped["checkpoint"])
    done = train(tiny(trace=False), work_dir=tmp_path / "done")
    with pytest.raises(ValueError, match="already at step 6 of 6"):
        train(tiny(trace=False), work_dir=tmp_path / "done", resume_from=done["checkpoint"])


# ----------------------------------------------------------------------------- new processes

_SCRIPT = """
import json, sys
from reprotorch.demo import DetectionConfig, train
cfg = DetectionConfig(**json.loads(sys.argv[1]))
kw = json.loads(sys.argv[2])
print(json.dumps(train(cfg, **kw)))
"""


def _train_in_new_process(cfg: dict, hash_seed: str = "0", **kw) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed, OMP_NUM_THREADS="1")
    env.pop("REPROTORCH_SEED", None)
    return subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(cfg), json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in kw.items()})],
        capture_output=True, text=True, env=env, timeout=240,
    )


def _result(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_mid_epoch_in_a_new_process_is_bitwise_equal(tmp_path, workers):
    cfg = {**TINY, "workers": workers, "checkpoint_interval": 4}
    a = _result(_train_in_new_process(cfg, work_dir=tmp_path / "a"))
    first = _result(_train_in_new_process(cfg, work_dir=tmp_path / "b", stop_after_step=4))
    assert first["stopped"] and first["steps"] == 4
    b = _result(_train_in_new_process(cfg, work_dir=tmp_path / "b", resume_from=first["checkpoint"]))
    assert b["steps"] == 6 and not b["stopped"]
    assert b["fingerprint"] == a["fingerprint"]
    assert b["losses"] == a["losses"] and b["map50"] == a["map50"]
    # the trace files line up one for one and match
    for (sa, pa), (sb, pb) in zip(a["trace"], b["trace"], strict=True):
        assert sa == sb
        assert reprotorch.compare_traces(pa, pb) is None


def test_resume_without_rng_and_loader_state_drifts(tmp_path):
    cfg = {**TINY, "checkpoint_interval": 4, "checkpoint_rng": False, "trace": False}
    a = _result(_train_in_new_process(cfg, work_dir=tmp_path / "a"))
    first = _result(_train_in_new_process(cfg, work_dir=tmp_path / "b", stop_after_step=4))
    b = _result(_train_in_new_process(cfg, work_dir=tmp_path / "b", resume_from=first["checkpoint"]))
    assert b["losses"][:4] == a["losses"][:4]
    assert b["losses"][4] != a["losses"][4]
    assert b["fingerprint"] != a["fingerprint"]


def test_resume_under_another_hash_seed_is_refused(tmp_path):
    first = _result(_train_in_new_process({**TINY, "trace": False}, work_dir=tmp_path, stop_after_step=2))
    proc = subprocess.run(
        [sys.executable, "-m", "reprotorch", "demo", "train", "--resume-from", first["checkpoint"],
         "--work-dir", str(tmp_path), "--config", _write(tmp_path / "c.json", {**TINY, "trace": False})],
        capture_output=True, text=True, env=dict(os.environ, PYTHONHASHSEED="1"), timeout=240,
    )
    assert proc.returncode == 2
    assert "PYTHONHASHSEED differs" in proc.stderr and "Traceback" not in proc.stderr
    assert "it was '0'" in proc.stderr


def _write(path: Path, data: dict) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_cli_train_and_its_errors(tmp_path):
    cfg = _write(tmp_path / "c.json", {**TINY, "trace": False})
    env = dict(os.environ, PYTHONHASHSEED="0")
    ok = subprocess.run(
        [sys.executable, "-m", "reprotorch", "demo", "train", "--config", cfg, "--work-dir", str(tmp_path / "w"),
         "--stop-after-step", "3", "--json"],
        capture_output=True, text=True, env=env, timeout=240,
    )
    assert ok.returncode == 0, ok.stderr
    result = json.loads(ok.stdout)
    assert result["steps"] == 3 and result["stopped"]
    assert (tmp_path / "w" / "iter_3.pth").is_file()

    bad = tmp_path / "bad.json"
    bad.write_text('{"epochs": 0}')
    for args, message in (
        (["--config", str(bad)], "epochs must be >= 1"),
        (["--config", str(tmp_path / "missing.json")], "does not exist"),
        (["--config", cfg, "--stop-after-step", "99"], "stop_after_step must be in"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "reprotorch", "demo", "train", *args, "--work-dir", str(tmp_path / "x")],
            capture_output=True, text=True, env=env, timeout=240,
        )
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr
