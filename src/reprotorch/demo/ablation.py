"""The ablation: turn one randomness control off at a time, run the training twice, and say what happens.

Every run is a fresh ``python -m reprotorch demo train`` process -- the only
honest way to test what changes between two launches of a training script: a
fresh interpreter draws new OS entropy for unseeded generators and a new string
hash salt unless ``PYTHONHASHSEED`` is set. Independent processes run two at a
time (each with one CPU thread). Whether two runs are identical is decided by
the fingerprint of their final ``state_dict``; *where* they part is taken from
their traces with :func:`reprotorch.compare_traces`.

Rows (see :data:`ROWS`):

- ``python``, ``numpy``, ``torch``, ``cuda``, ``cudnn``: the seed document's own
  pipeline (global seeding, a plain ``DataLoader`` with ``worker_init_fn``,
  ``num_workers=0``) with one of its five controls left out;
- ``hashseed``, ``data``, ``resume``: reprotorch's pipeline (all five seeds,
  per-sample data seeding, RNG and loader state in checkpoints, a fixed
  ``PYTHONHASHSEED``) with one of those left out;
- ``all``: every control on; run A with ``num_workers=0`` uninterrupted, run B
  with ``num_workers=2`` stopped mid-epoch and resumed in a new process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import atomic_write_text
from .config import SEED_SOURCES, DetectionConfig
from .plot import Panel, save_figure

__all__ = [
    "ROWS",
    "Sizes",
    "QUICK",
    "DEFAULT",
    "run_ablation",
    "first_divergence",
    "render_markdown",
]

ROWS: tuple[str, ...] = ("python", "numpy", "torch", "cuda", "cudnn", "hashseed", "data", "resume", "all")

FORMAT_NAME = "reprotorch.demo.ablation"
FORMAT_VERSION = 1
HASH_SEED_ON = "0"
HASH_SEED_OTHER = "1"


@dataclass(frozen=True)
class Sizes:
    """How big each training run of the ablation is."""

    num_train: int
    num_val: int
    batch_size: int
    epochs: int

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.num_train // self.batch_size)

    @property
    def total_steps(self) -> int:
        return self.epochs * self.steps_per_epoch

    @property
    def stop_step(self) -> int:
        """Where the resumed runs stop: the middle of the middle epoch."""
        spe = self.steps_per_epoch
        return spe * (self.epochs // 2) + max(1, spe // 2)


QUICK = Sizes(num_train=48, num_val=24, batch_size=8, epochs=3)
DEFAULT = Sizes(num_train=320, num_val=96, batch_size=16, epochs=10)


@dataclass(frozen=True)
class RunSpec:
    """One training run: a config, a ``PYTHONHASHSEED``, and whether it is stopped and resumed."""

    name: str
    config: DetectionConfig
    hash_seed: str
    stop_at: int | None = None
    describe: str = ""


@dataclass(frozen=True)
class RowSpec:
    key: str
    control: str
    pair: str
    run_a: str
    run_b: str
    needs_cuda: bool = False


def _build_specs(sizes: Sizes) -> tuple[dict[str, RunSpec], dict[str, RowSpec]]:
    k = sizes.stop_step
    base = DetectionConfig(
        num_train=sizes.num_train,
        num_val=sizes.num_val,
        batch_size=sizes.batch_size,
        epochs=sizes.epochs,
        checkpoint_interval=k,  # the uninterrupted runs' trace files are cut where the resumed runs stop
        workers=0,
        num_threads=1,
    )
    doc = dataclasses.replace(base, data_seeding=False)

    def without(source: str) -> DetectionConfig:
        return dataclasses.replace(doc, seed_sources=tuple(s for s in SEED_SOURCES if s != source))

    runs: dict[str, RunSpec] = {"ref": RunSpec("ref", base, HASH_SEED_ON, None, "every control on, num_workers=0")}
    for src in ("python", "numpy", "torch", "cuda"):
        for side in ("A", "B"):
            runs[f"{src}/{side}"] = RunSpec(f"{src}/{side}", without(src), HASH_SEED_ON)
    cudnn = dataclasses.replace(doc, deterministic=False, cudnn_benchmark=True)
    runs["cudnn/A"] = RunSpec("cudnn/A", cudnn, HASH_SEED_ON)
    runs["cudnn/B"] = RunSpec("cudnn/B", cudnn, HASH_SEED_ON)
    runs["hashseed/B"] = RunSpec("hashseed/B", base, HASH_SEED_OTHER)
    runs["data/A"] = RunSpec("data/A", dataclasses.replace(doc, workers=0), HASH_SEED_ON)
    runs["data/B"] = RunSpec("data/B", dataclasses.replace(doc, workers=2), HASH_SEED_ON)
    runs["resume/B"] = RunSpec("resume/B", dataclasses.replace(base, checkpoint_rng=False), HASH_SEED_ON, k)
    runs["all/B"] = RunSpec("all/B", dataclasses.replace(base, workers=2), HASH_SEED_ON, k)

    doc_pair = "2 processes, seed-document pipeline (plain DataLoader + worker_init_fn, num_workers=0)"
    rows = {
        "python": RowSpec("python", "Python seed (random.seed)", doc_pair, "python/A", "python/B"),
        "numpy": RowSpec("numpy", "NumPy seed (np.random.seed)", doc_pair, "numpy/A", "numpy/B"),
        "torch": RowSpec("torch", "torch seed (torch.manual_seed)", doc_pair, "torch/A", "torch/B"),
        "cuda": RowSpec("cuda", "CUDA seed (torch.cuda.manual_seed_all)", doc_pair, "cuda/A", "cuda/B", True),
        "cudnn": RowSpec(
            "cudnn", "cuDNN determinism (deterministic algorithms; benchmark on)",
            doc_pair, "cudnn/A", "cudnn/B", True,
        ),
        "hashseed": RowSpec(
            "hashseed", "hash seed (PYTHONHASHSEED)",
            f"2 processes, PYTHONHASHSEED={HASH_SEED_ON} and {HASH_SEED_OTHER}", "ref", "hashseed/B",
        ),
        "data": RowSpec(
            "data", "per-sample data seeding",
            "num_workers=0 against num_workers=2 (seed-document loader with worker_init_fn)",
            "data/A", "data/B",
        ),
        "resume": RowSpec(
            "resume", "RNG and loader state in checkpoints",
            f"uninterrupted against stopped at step {k} (mid-epoch) and resumed in a new process",
            "ref", "resume/B",
        ),
        "all": RowSpec(
            "all", "none: every control on",
            f"A: num_workers=0, uninterrupted; B: num_workers=2, stopped at step {k} (mid-epoch) "
            "and resumed in a new process",
            "ref", "all/B",
        ),
    }
    return runs, rows


# --------------------------------------------------------------------------- running


@dataclass
class _Outcome:
    spec: RunSpec
    work_dir: Path
    result: dict[str, Any] | None = None
    error: str | None = None
    process_wall_s: float = 0.0


def _child_env(hash_seed: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = hash_seed
    env["OMP_NUM_THREADS"] = "1"
    env["MKL_NUM_THREADS"] = "1"
    env.pop("REPROTORCH_SEED", None)  # the config's seed decides, not an inherited one
    return env


def _clean_run_dir(path: Path) -> None:
    """Remove what an earlier demo left in this run's folder (only files this module writes)."""
    if not path.is_dir():
        return
    for pattern in ("result.json", "config.json", "log.jsonl", "trace-*.jsonl", "iter_*.pth", "process-*.log"):
        for f in path.glob(pattern):
            f.unlink()


def _command(run: _Outcome, part: int) -> list[str]:
    cmd = [sys.executable, "-m", "reprotorch", "demo", "train",
           "--config", str(run.work_dir / "config.json"), "--work-dir", str(run.work_dir)]
    k = run.spec.stop_at
    if k is not None and part == 0:
        cmd += ["--stop-after-step", str(k)]
    elif k is not None:
        cmd += ["--resume-from", str(run.work_dir / f"iter_{k}.pth")]
    return cmd


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no output)"
    return " | ".join(text[-lines:]) if text else "(no output)"


def _run_all(
    runs: list[_Outcome], jobs: int, progress: Callable[[str], None], timeout_s: float
) -> None:
    """Run every run's processes, ``jobs`` at a time; a resume part starts when its first part ends."""
    # runs with two sequential parts first, so their second parts do not trail at the end
    pending: list[tuple[_Outcome, int]] = [(r, 0) for r in sorted(runs, key=lambda r: r.spec.stop_at is None)]
    total = sum(2 if r.spec.stop_at is not None else 1 for r in runs)
    running: list[tuple[subprocess.Popen[bytes], _Outcome, int, float, Any]] = []
    done = 0
    try:
        while pending or running:
            while pending and len(running) < jobs:
                run, part = pending.pop(0)
                log = open(run.work_dir / f"process-{part}.log", "wb")
                proc = subprocess.Popen(
                    _command(run, part), stdout=log, stderr=subprocess.STDOUT,
                    env=_child_env(run.spec.hash_seed),
                )
                running.append((proc, run, part, time.perf_counter(), log))
            time.sleep(0.05)
            still = []
            for proc, run, part, t0, log in running:
                elapsed = time.perf_counter() - t0
                if proc.poll() is None and elapsed > timeout_s:
                    proc.kill()
                    proc.wait()
                    run.error = f"process {part + 1} ran past {timeout_s:.0f} s and was stopped"
                if proc.poll() is None:
                    still.append((proc, run, part, t0, log))
                    continue
                log.close()
                run.process_wall_s += elapsed
                done += 1
                if proc.returncode != 0 and run.error is None:
                    run.error = (
                        f"process {part + 1} exited with status {proc.returncode}: "
                        f"{_tail(run.work_dir / f'process-{part}.log')}"
                    )
                if run.error is None and run.spec.stop_at is not None and part == 0:
                    pending.insert(0, (run, 1))
                if run.error is None and (run.spec.stop_at is None or part == 1):
                    try:
                        run.result = json.loads((run.work_dir / "result.json").read_text(encoding="utf-8"))
                    except (OSError, ValueError) as exc:
                        run.error = f"no readable result.json ({exc})"
                status = "failed" if run.error else "done"
                what = ["stopped", "resumed"][part] if run.spec.stop_at is not None else "run"
                progress(f"[{done:2d}/{total}] {run.spec.name:<11} {what:<8} {status} in {elapsed:5.1f} s")
            running = still
    except BaseException:
        for proc, _, _, _, log in running:
            proc.kill()
            proc.wait()
            log.close()
        raise


# --------------------------------------------------------------------------- comparing


def first_divergence(a_segments: Sequence[Sequence[Any]], b_segments: Sequence[Sequence[Any]]) -> dict[str, Any] | None:
    """The first divergent event between two runs' trace files, or ``None`` when they match.

    Each side is a list of ``[first step, path]`` (the ``trace`` field of a
    :func:`reprotorch.demo.train` result). Files are paired by first step and
    compared with :func:`reprotorch.compare_traces`; the returned dict is the
    :class:`reprotorch.Divergence` as a dict.
    """
    import reprotorch

    a_map = {int(s): p for s, p in a_segments}
    b_map = {int(s): p for s, p in b_segments}
    for start in sorted(set(a_map) | set(b_map)):
        if start not in a_map or start not in b_map:
            side = "A" if start not in a_map else "B"
            return {
                "step": start, "phase": "trace", "module": None, "tensor": None,
                "hint": f"run {side} has no trace file from step {start}: the runs were cut differently",
            }
        found = reprotorch.compare_traces(reprotorch.load_trace(a_map[start]), reprotorch.load_trace(b_map[start]))
        if found is not None:
            out = dict(found.to_dict())  # steps are absolute: each file starts at its first step
            out["trace_files"] = [a_map[start], b_map[start]]
            return out
    return None


def _first_loss_difference(a: Sequence[float], b: Sequence[float]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def _compare(row: RowSpec, a: _Outcome, b: _Outcome) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "error", "divergence": None, "first_loss_difference": None}
    if a.error or b.error or a.result is None or b.result is None:
        out["error"] = "; ".join(f"run {s}: {o.error}" for s, o in (("A", a), ("B", b)) if o.error)
        return out
    same = a.result["fingerprint"] == b.result["fingerprint"]
    divergence = first_divergence(a.result["trace"], b.result["trace"])
    out["divergence"] = divergence
    out["first_loss_difference"] = _first_loss_difference(a.result["losses"], b.result["losses"])
    out["status"] = "identical" if same and divergence is None else "diverged"
    if not same and divergence is None:
        out["note"] = "final parameters differ but the traces did not locate where"
    return out


def _run_summary(o: _Outcome) -> dict[str, Any]:
    r = o.result or {}
    return {
        "run": o.spec.name,
        "pythonhashseed": o.spec.hash_seed,
        "workers": o.spec.config.workers,
        "stopped_and_resumed_at": o.spec.stop_at,
        "fingerprint": r.get("fingerprint"),
        "map50": r.get("map50"),
        "steps": r.get("steps"),
        "seed": r.get("seed"),
        "classes": r.get("classes"),
        "train_time_s": r.get("train_time_s"),
        "process_wall_s": round(o.process_wall_s, 3),
        "losses": r.get("losses"),
        "work_dir": str(o.work_dir),
        "error": o.error,
    }


# --------------------------------------------------------------------------- rendering


def _divergence_text(row: dict[str, Any]) -> str:
    d = row.get("divergence")
    if row["status"] == "identical":
        return "none"
    if not d:
        return row.get("note") or row.get("error") or ""
    where = " · ".join(str(x) for x in (d.get("phase"), d.get("module"), d.get("tensor")) if x)
    return f"step {d['step']} · {where}"


def _fmt_map(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}"


def render_markdown(doc: dict[str, Any]) -> str:
    """The ablation table as Markdown (what ``ablation.md`` holds)."""
    lines = [
        "| # | control turned off | the two runs | result | first divergence (step · phase · module) | mAP@0.5 A / B | wall time A / B |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, row in enumerate(doc["rows"], 1):
        a, b = row.get("a") or {}, row.get("b") or {}
        if row["status"] == "not applicable":
            lines.append(f"| {i} | {row['control']} | {row['pair']} | {row['reason']} | | | |")
            continue
        result = {"identical": "**bitwise identical**", "diverged": "diverged", "error": "error"}[row["status"]]
        if row["key"] == "all" and row["status"] == "identical":
            result += f" `{a.get('fingerprint')}`"
        walls = " / ".join(f"{x['process_wall_s']:.1f} s" for x in (a, b) if x.get("process_wall_s") is not None)
        lines.append(
            f"| {i} | {row['control']} | {row['pair']} | {result} | {_divergence_text(row)} | "
            f"{_fmt_map(a.get('map50'))} / {_fmt_map(b.get('map50'))} | {walls} |"
        )
    s = doc["settings"]
    lines += [
        "",
        f"Seed {s['seed']}; {s['total_steps']} steps ({s['epochs']} epochs of {s['steps_per_epoch']} "
        f"batches of {s['batch_size']}) on {s['num_train']} images, mAP on {s['num_val']}; "
        f"device {doc['environment']['device']}; torch {doc['environment']['torch']}; "
        f"{doc['wall_time_s']:.0f} s in all with {doc['jobs']} processes at a time. Wall time per run: "
        "its training process(es), interpreter start-up and tracing included.",
    ]
    hints = [
        f"- **{row['key']}**: {row['divergence']['hint']}"
        for row in doc["rows"]
        if row.get("divergence") and row["divergence"].get("hint")
    ]
    if hints:
        lines += ["", "What the traces say:", "", *hints]
    return "\n".join(lines) + "\n"


def _panels(doc: dict[str, Any]) -> list[Panel]:
    panels = []
    for i, row in enumerate(doc["rows"], 1):
        if row["status"] == "not applicable":
            continue  # named in the figure's subtitle instead
        if row["key"] == "all":
            title = f"{i}. all: every control on"
        else:
            title = f"{i}. {row['key']}: off = {row['control']}"
        a, b = row.get("a") or {}, row.get("b") or {}
        d = row.get("divergence")
        if row["status"] == "identical":
            verdict, ok = f"bitwise identical: {a.get('fingerprint')}", True
        elif row["status"] == "diverged":
            verdict, ok = f"diverged: {_divergence_text(row).replace(' · ', ', ')}", False
        else:
            verdict, ok = f"error: {row.get('error', '')}", None
        step = d["step"] if d else row.get("first_loss_difference")
        panels.append(Panel(title, verdict, a.get("losses") or [], b.get("losses") or [], step, ok))
    return panels


# --------------------------------------------------------------------------- entry


def _environment() -> dict[str, Any]:
    import torch

    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cuda_available": cuda,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
    }


def parse_rows(text: str | None) -> list[str]:
    """``"python,torch"`` -> ``["python", "torch"]``, in table order; ``None`` -> every row."""
    if text is None:
        return list(ROWS)
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in ROWS]
    if unknown or not names:
        raise ValueError(f"unknown rows {unknown or [text]}; choose from {','.join(ROWS)}")
    return [r for r in ROWS if r in names]


def run_ablation(
    out_dir: str | os.PathLike[str],
    *,
    rows: Sequence[str] | None = None,
    quick: bool = False,
    jobs: int | None = None,
    progress: Callable[[str], None] | None = None,
    timeout_s: float = 900.0,
) -> dict[str, Any]:
    """Run the chosen rows, write ``ablation.md``, ``ablation.json`` and ``ablation.png`` into ``out_dir``.

    Returns the JSON document. ``rows`` are names from :data:`ROWS` (reported in
    table order, once each; ``None``: every row). ``jobs`` is the number of
    training processes run at a time (default: 2, or 1 on a single-core
    machine); a process running longer than ``timeout_s`` is stopped and its
    row reported as an error. Bad arguments raise before anything is written.
    """
    if rows is not None and (
        not isinstance(rows, (list, tuple)) or not all(isinstance(r, str) for r in rows)
    ):
        raise TypeError(f"rows must be a list of row names such as ['python', 'all'], got {rows!r}")
    chosen = list(ROWS) if rows is None else [r for r in ROWS if r in rows]  # table order, once each
    unknown = [] if rows is None else [r for r in rows if r not in ROWS]
    if unknown:
        raise ValueError(f"unknown rows {unknown}; choose from {list(ROWS)}")
    if not chosen:
        raise ValueError(f"rows is empty; choose at least one of {list(ROWS)} (or None for every row)")
    if not isinstance(quick, bool):
        raise TypeError(f"quick must be a bool, got {quick!r}")
    if jobs is None:
        jobs = max(1, min(2, os.cpu_count() or 1))
    if isinstance(jobs, bool) or not isinstance(jobs, int):
        raise TypeError(f"jobs must be a positive int, got {type(jobs).__name__} {jobs!r}")
    if jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
        raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable taking one str, got {type(progress).__name__}")
    say = progress or (lambda _msg: None)
    sizes = QUICK if quick else DEFAULT
    specs, row_specs = _build_specs(sizes)
    env = _environment()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {str(out)!r} exists and is not a folder; pass another --out")
    out.mkdir(parents=True, exist_ok=True)

    applicable = {r: not row_specs[r].needs_cuda or env["cuda_available"] for r in chosen}
    needed: list[str] = []
    for r in chosen:
        if applicable[r]:
            for name in (row_specs[r].run_a, row_specs[r].run_b):
                if name not in needed:
                    needed.append(name)
    outcomes: dict[str, _Outcome] = {}
    for name in needed:
        work_dir = (out / "runs" / name.replace("/", "-")).resolve()
        work_dir.mkdir(parents=True, exist_ok=True)
        _clean_run_dir(work_dir)
        specs[name].config.save(work_dir / "config.json")
        outcomes[name] = _Outcome(specs[name], work_dir)

    started = time.perf_counter()
    say(f"{len(needed)} training runs for {len(chosen)} rows, {jobs} at a time, in {out.resolve()}")
    _run_all(list(outcomes.values()), jobs, say, timeout_s)
    wall = time.perf_counter() - started

    table = []
    for r in chosen:
        spec = row_specs[r]
        entry: dict[str, Any] = {"key": r, "control": spec.control, "pair": spec.pair}
        if not applicable[r]:
            entry.update(status="not applicable", reason="not applicable: no CUDA device")
        else:
            a, b = outcomes[spec.run_a], outcomes[spec.run_b]
            entry.update(_compare(spec, a, b))
            entry["a"], entry["b"] = _run_summary(a), _run_summary(b)
        table.append(entry)

    doc: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "settings": {
            "quick": quick,
            "seed": DetectionConfig().seed,
            "num_train": sizes.num_train,
            "num_val": sizes.num_val,
            "batch_size": sizes.batch_size,
            "epochs": sizes.epochs,
            "steps_per_epoch": sizes.steps_per_epoch,
            "total_steps": sizes.total_steps,
            "stop_step": sizes.stop_step,
        },
        "environment": env,
        "jobs": jobs,
        "wall_time_s": wall,
        "rows": table,
    }
    atomic_write_text(out / "ablation.json", json.dumps(doc, indent=1) + "\n")
    atomic_write_text(out / "ablation.md", render_markdown(doc))
    skipped = [row["key"] for row in table if row["status"] == "not applicable"]
    subtitle = f"not applicable here (no CUDA device): {', '.join(skipped)}" if skipped else ""
    save_figure(out / "ablation.png", _panels(doc), "reprotorch demo: what happens without each control", subtitle)
    return doc


