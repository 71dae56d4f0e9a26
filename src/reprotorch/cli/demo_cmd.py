"""``reprotorch demo``: the detection demo's ablation, and ``reprotorch demo train`` for one training run.

``reprotorch demo [--quick] [--rows python,numpy,...] [--out DIR]`` trains the
demo detector with one randomness control off at a time, twice each, and prints
the table (also written to ``DIR/ablation.md``, ``ablation.json`` and
``ablation.png``). Exit status 0 when the every-control-on row is bitwise
identical (or was not asked for), 1 when it is not, 2 when a run failed.

``reprotorch demo train [--config FILE] [--resume-from CKPT] [--stop-after-step K]
[--work-dir DIR]`` is :func:`reprotorch.demo.train` on the command line.

torch is imported only when a demo actually runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import CLIError

_ROWS = "python,numpy,torch,cuda,cudnn,hashseed,data,resume,all"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``reprotorch demo`` and its ``train`` action."""
    parser.add_argument("--quick", action="store_true", help="tiny runs (seconds), for tests and a first look")
    parser.add_argument(
        "--rows", default=None, metavar="LIST",
        help=f"comma-separated rows to run (default: every row): {_ROWS}",
    )
    parser.add_argument(
        "--out", default="reprotorch-demo", metavar="DIR",
        help="folder for ablation.md, ablation.json, ablation.png and the runs (default ./reprotorch-demo)",
    )
    parser.add_argument(
        "--jobs", type=int, default=None, metavar="N",
        help="training processes at a time (default 2, 1 on a one-core machine)",
    )
    parser.add_argument("--json", action="store_true", help="print the ablation as JSON instead of the table")
    sub = parser.add_subparsers(dest="demo_action", metavar="ACTION")
    train = sub.add_parser(
        "train",
        help="train the detection demo once",
        description="Train the detection demo once (reprotorch.demo.train on the command line).",
    )
    train.add_argument("--config", metavar="FILE", help="JSON file of DetectionConfig fields (others take defaults)")
    train.add_argument("--resume-from", metavar="CKPT", help="continue from this checkpoint (iter_K.pth)")
    train.add_argument(
        "--stop-after-step", type=int, metavar="K",
        help="write a checkpoint after step K and stop, as if the job were killed there",
    )
    train.add_argument(
        "--work-dir", default="reprotorch-demo/train", metavar="DIR",
        help="folder for checkpoints, traces, log.jsonl and result.json (default ./reprotorch-demo/train)",
    )
    train.add_argument("--json", dest="train_json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the ablation or to one training run."""
    if getattr(args, "demo_action", None) == "train":
        return _train(args)
    return _ablation(args)


def _log_to_stderr() -> None:
    import logging

    logger = logging.getLogger("reprotorch.demo")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def _train(args: argparse.Namespace) -> int:
    from reprotorch import ReproducibilityError
    from reprotorch.demo import DetectionConfig, train

    cfg = DetectionConfig.load(args.config) if args.config else DetectionConfig()
    _log_to_stderr()
    try:
        result = train(
            cfg, work_dir=args.work_dir, resume_from=args.resume_from, stop_after_step=args.stop_after_step
        )
    except ReproducibilityError as exc:
        raise CLIError(str(exc)) from None
    if args.train_json:
        print(json.dumps(result))
        return 0
    m = result["map50"]
    print(
        f"{'stopped' if result['stopped'] else 'finished'} at step {result['steps']}/{result['total_steps']}: "
        f"seed {result['seed']}, final loss {result['losses'][-1]:.4f}, "
        f"mAP@0.5 {'-' if m is None else f'{m:.4f}'}, parameters {result['fingerprint']}"
    )
    print(f"checkpoint {result['checkpoint']}; log and traces in {result['work_dir']}")
    return 0


def _progress(message: str) -> None:
    print(f"reprotorch demo: {message}", file=sys.stderr, flush=True)


def _ablation(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reprotorch.demo.ablation import parse_rows, render_markdown, run_ablation

    try:
        rows = parse_rows(args.rows)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if args.jobs is not None and args.jobs < 1:
        raise CLIError(f"--jobs must be at least 1, got {args.jobs}")
    doc: dict[str, Any] = run_ablation(args.out, rows=rows, quick=args.quick, jobs=args.jobs, progress=_progress)
    if args.json:
        print(json.dumps(doc))
        # stdout stays one JSON document; the folder is still named at the end, on stderr
        print(f"reprotorch demo: wrote ablation.md, ablation.json and ablation.png to {Path(args.out).resolve()}",
              file=sys.stderr)
    else:
        print(render_markdown(doc), end="")
        print(f"\nwrote ablation.md, ablation.json and ablation.png to {Path(args.out).resolve()}")
    statuses = {row["key"]: row["status"] for row in doc["rows"]}
    if "error" in statuses.values():
        failed = [k for k, s in statuses.items() if s == "error"]
        print(f"reprotorch demo: rows {', '.join(failed)} failed; see process-*.log under "
              f"{Path(args.out).resolve() / 'runs'}", file=sys.stderr)
        return 2
    if statuses.get("all", "identical") != "identical":
        return 1
    return 0
