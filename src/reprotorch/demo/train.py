"""The demo's training entry, following the seed document's MMDetection ``tools/train.py`` flow.

::

    seed = init_random_seed(cfg.seed)
    set_random_seed(seed, deterministic=cfg.deterministic)
    cfg.seed = seed
    meta["seed"] = seed
    meta["exp_name"] = ...
    build_dataloader(dataset, samples_per_gpu, workers_per_gpu, seed=cfg.seed)

then a plain training loop that checkpoints its *position* (RNG state and
loader state) beside the weights, so that a run stopped mid-epoch and resumed
in a new process ends bitwise equal to the uninterrupted run.

Each step is traced with :func:`reprotorch.trace`; the trace is cut into one
file per checkpoint interval ("segments"), so the trace of a resumed run lines
up file by file with that of the uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import Any

import torch

import reprotorch

from .augment import eval_pipeline, train_pipeline
from .checkpoint import atomic_write_text, load_checkpoint, save_checkpoint
from .config import SEED_SOURCES, DetectionConfig
from .evaluate import evaluate
from .model import TinyCenterNet
from .shapes import ShapesDataset

__all__ = ["train", "TRAIN_CONTENT_SEED", "VAL_CONTENT_SEED"]

_log = logging.getLogger("reprotorch.demo")

# The datasets' contents (the "files on disk"), fixed and independent of the training seed.
TRAIN_CONTENT_SEED = 20220329
VAL_CONTENT_SEED = 20220330


# --------------------------------------------------------------------------- the library, one place each


def _seed_run(seed: int, cfg: DetectionConfig) -> None:
    """``set_random_seed(seed, deterministic=cfg.deterministic)``, or the same with sources left out.

    The ablation leaves one of the seed document's four calls out at a time;
    with all four in, this is exactly the document's call.
    """
    if set(cfg.seed_sources) == set(SEED_SOURCES):
        reprotorch.set_random_seed(seed, deterministic=cfg.deterministic)
    else:
        from reprotorch.sources import get_source

        for name in cfg.seed_sources:
            source = get_source(name)
            if source.available():
                source.seed(seed)
        if cfg.deterministic:
            reprotorch.set_deterministic(True)
    if not cfg.deterministic:
        # Back to PyTorch's defaults (matters when train() runs twice in one process),
        # then MMDetection's cudnn_benchmark option.
        reprotorch.set_deterministic(False)
        torch.backends.cudnn.benchmark = cfg.cudnn_benchmark


def _build_loader(dataset: ShapesDataset, cfg: DetectionConfig, seed: int) -> Any:
    """``reprotorch.data.build_dataloader`` (per-sample seeding), or the seed document's plain loader."""
    from reprotorch import data

    if cfg.data_seeding:
        return data.build_dataloader(
            dataset, cfg.batch_size, cfg.workers, num_gpus=1, dist=False, shuffle=True, seed=seed
        )
    # The seed document's pipeline: a DataLoader whose workers are seeded by worker_init_fn;
    # augmentations draw from whichever process's global generators fetch the sample.
    return torch.utils.data.DataLoader(
        dataset,  # type: ignore[arg-type]  # any map-style dataset works; it need not subclass Dataset
        batch_size=cfg.batch_size,
        shuffle=True,
        num_workers=cfg.workers,
        worker_init_fn=partial(data.worker_init_fn, num_workers=cfg.workers, rank=0, seed=seed),
    )


def _fingerprint(model: torch.nn.Module) -> str:
    """The bit-exact fingerprint of the model's ``state_dict`` (parameters and buffers)."""
    return reprotorch.fingerprint(model)


class _TraceSegments:
    """``reprotorch.trace`` on the model, cut into one file per checkpoint interval.

    Files are named ``trace-<first step, 6 digits>.jsonl`` and number their
    steps from that first step (``first_step``), so a run stopped and resumed
    produces files that pair one for one with the uninterrupted run's.
    """

    def __init__(self, model: torch.nn.Module, work_dir: Path, enabled: bool) -> None:
        self.model = model
        self.work_dir = work_dir
        self.enabled = enabled
        self.segments: list[list[Any]] = []
        self._ctx: AbstractContextManager[Any] | None = None
        self._tracer: Any = None

    def start(self, step: int) -> None:
        if not self.enabled:
            return
        path = self.work_dir / f"trace-{step:06d}.jsonl"
        self._ctx = reprotorch.trace(self.model, path, first_step=step)
        self._tracer = self._ctx.__enter__()
        self.segments.append([step, str(path.resolve())])

    def loss(self, value: torch.Tensor) -> None:
        if self._tracer is not None:
            self._tracer.loss(value)

    def stop(self, exc: BaseException | None = None) -> None:
        if self._ctx is not None:
            ctx, self._ctx, self._tracer = self._ctx, None, None
            if exc is None:
                ctx.__exit__(None, None, None)
            else:
                ctx.__exit__(type(exc), exc, exc.__traceback__)


# --------------------------------------------------------------------------- helpers


def _resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device {name!r} is not a torch device name; use 'auto', 'cpu' or 'cuda'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} was asked for but CUDA is not available here; use 'auto' or 'cpu'")
    return device


def _check_resume(ckpt: dict[str, Any], cfg: DetectionConfig, path: Any) -> None:
    """Refuse a checkpoint this config cannot continue, before anything (seeds included) is changed."""
    saved = ckpt["config"]
    if cfg.checkpoint_rng and "rng" in ckpt:
        try:  # restored only right before the first resumed step; a bad one must fail here
            reprotorch.RNGState.from_dict(ckpt["rng"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"checkpoint {str(path)!r} holds an unreadable RNG state: {exc}") from None
    if cfg.seed is not None and saved.get("seed") != cfg.seed:
        raise ValueError(
            f"checkpoint {str(path)!r} was trained with seed {saved.get('seed')}, the config says "
            f"{cfg.seed}; set seed to {saved.get('seed')} (or null to take it from the checkpoint)"
        )
    for name in ("batch_size", "num_train", "image_size", "width"):
        if saved.get(name) != getattr(cfg, name):
            raise ValueError(
                f"checkpoint {str(path)!r} was trained with {name}={saved.get(name)}, the config says "
                f"{getattr(cfg, name)}; resume with the configuration the checkpoint was made with"
            )


def _total_steps(cfg: DetectionConfig) -> int:
    return cfg.epochs * -(-cfg.num_train // cfg.batch_size)


def _check_steps(cfg: DetectionConfig, ckpt: dict[str, Any] | None, stop_after_step: int | None) -> None:
    """Refuse impossible step ranges before anything (seeds included) is changed."""
    total = _total_steps(cfg)
    step = int(ckpt["step"]) if ckpt is not None else 0
    if step >= total:
        raise ValueError(
            f"the checkpoint is already at step {step} of {total}; raise epochs to train further"
        )
    if stop_after_step is not None and not step < stop_after_step <= total:
        raise ValueError(
            f"stop_after_step must be in [{step + 1}, {total}] (the run starts at step {step} "
            f"of {total}), got {stop_after_step}"
        )


def _dataset_classes_check(ckpt: dict[str, Any], classes: tuple[str, ...]) -> None:
    saved = tuple(ckpt["meta"].get("classes", ()))
    if saved and saved != classes:
        raise reprotorch.ReproducibilityError(
            f"the checkpoint's class order is {list(saved)} but this process built {list(classes)} "
            "from the set of category names: PYTHONHASHSEED differs between the two processes, so "
            "every label index would change. Resume with the PYTHONHASHSEED the run started with "
            f"(it was {ckpt['meta'].get('hash_seed')!r})."
        )


def _validate_call(work_dir: Any, resume_from: Any, stop_after_step: Any) -> Path:
    if not isinstance(work_dir, (str, os.PathLike)):
        raise TypeError(f"work_dir must be a path, got {type(work_dir).__name__} {work_dir!r}")
    if resume_from is not None and not isinstance(resume_from, (str, os.PathLike)):
        raise TypeError(f"resume_from must be a path or None, got {type(resume_from).__name__}")
    if stop_after_step is not None and (
        isinstance(stop_after_step, bool) or not isinstance(stop_after_step, int)
    ):
        raise TypeError(f"stop_after_step must be an int or None, got {stop_after_step!r}")
    path = Path(work_dir)
    if path.exists() and not path.is_dir():
        raise ValueError(f"work_dir {str(path)!r} exists and is not a directory")
    return path


# --------------------------------------------------------------------------- train


def train(
    cfg: DetectionConfig,
    *,
    work_dir: str | os.PathLike[str],
    resume_from: str | os.PathLike[str] | None = None,
    stop_after_step: int | None = None,
) -> dict[str, Any]:
    """Train the detection demo; return its result (also written to ``work_dir/result.json``).

    ``resume_from`` continues from a checkpoint written by an earlier call (in
    any process). ``stop_after_step=K`` writes a checkpoint after step K and
    returns, as if the job had been stopped there.

    The result holds ``fingerprint`` (of the final ``state_dict``), ``map50``
    (mAP@0.5 on the validation set; ``None`` for a stopped run), ``steps``
    (optimizer steps done, over all resumed parts), ``seed``, ``losses`` (one per
    step, all parts), ``classes``, ``checkpoint``, ``trace`` (``[first step,
    path]`` per trace file), ``stopped`` and timings. Seeds, determinism settings
    and the thread count are set for the process, as a training script does;
    the thread count is put back on return.
    """
    if not isinstance(cfg, DetectionConfig):
        raise TypeError(f"cfg must be a reprotorch.demo.DetectionConfig, got {type(cfg).__name__}")
    cfg.validate()
    work_path = _validate_call(work_dir, resume_from, stop_after_step)
    ckpt = load_checkpoint(resume_from) if resume_from is not None else None
    if ckpt is not None:
        _check_resume(ckpt, cfg, resume_from)
    _check_steps(cfg, ckpt, stop_after_step)
    device = _resolve_device(cfg.device)
    # The dataset draws from no global generator (its contents come from a local one), so it
    # is built before seeding: a resume whose class order differs is refused with nothing changed.
    train_set = ShapesDataset(cfg.num_train, image_size=cfg.image_size, content_seed=TRAIN_CONTENT_SEED)
    if ckpt is not None:
        _dataset_classes_check(ckpt, train_set.CLASSES)
    work_path.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    threads_before = torch.get_num_threads()
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    try:
        return _train(cfg, work_path, ckpt, resume_from, stop_after_step, device, started, train_set)
    finally:
        torch.set_num_threads(threads_before)


def _train(
    cfg: DetectionConfig,
    work_dir: Path,
    ckpt: dict[str, Any] | None,
    resume_from: Any,
    stop_after_step: int | None,
    device: torch.device,
    started: float,
    train_set: ShapesDataset,
) -> dict[str, Any]:
    cfg = dataclasses.replace(cfg)  # the caller's config is not changed by `cfg.seed = seed`
    # ---- the seed document's flow
    seed = reprotorch.init_random_seed(cfg.seed if ckpt is None else ckpt["config"]["seed"])
    _seed_run(seed, cfg)
    cfg.seed = seed
    meta: dict[str, Any] = {"seed": seed, "exp_name": cfg.exp_name}
    meta["hash_seed"] = os.environ.get("PYTHONHASHSEED")

    classes = train_set.CLASSES
    train_set.pipeline = train_pipeline(len(classes))
    val_set = ShapesDataset(
        cfg.num_val, image_size=cfg.image_size, content_seed=VAL_CONTENT_SEED, classes=classes,
        pipeline=eval_pipeline(),
    )
    meta["classes"] = list(classes)

    model = TinyCenterNet(len(classes), width=cfg.width, dropout=cfg.dropout).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loader = _build_loader(train_set, cfg, seed)
    steps_per_epoch = len(loader)
    total_steps = cfg.epochs * steps_per_epoch

    step = 0
    losses: list[float] = []
    segments: list[list[Any]] = []
    wall_before = 0.0
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        step = int(ckpt["step"])
        losses = [float(v) for v in ckpt["history"]["loss"]]
        segments = [list(s) for s in ckpt["meta"].get("trace", [])]
        wall_before = float(ckpt["meta"].get("train_time_s", 0.0))
        exact = cfg.checkpoint_rng and cfg.data_seeding and "rng" in ckpt and "loader" in ckpt
        if exact:
            loader.load_state_dict(ckpt["loader"])
        elif cfg.data_seeding:
            loader.set_epoch(step // steps_per_epoch)  # MMCV-style: the interrupted epoch starts over
        if cfg.checkpoint_rng and not exact and step % steps_per_epoch:
            # Asked for an exact resume but cannot give one: say so instead of drifting silently.
            why = (
                "the seed document's plain DataLoader (data_seeding=False) has no position to restore"
                if not cfg.data_seeding
                else "the checkpoint holds no RNG and loader state (it was made with checkpoint_rng=False)"
            )
            _log.warning(
                "resuming at step %d (mid-epoch) is not exact: %s, so the interrupted epoch starts over "
                "with the generators as seeded at start-up", step, why,
            )
        if exact:
            # Last, right before the loop: nothing may draw between here and the next step.
            reprotorch.restore_rng_state(reprotorch.RNGState.from_dict(ckpt["rng"]))
    if total_steps != _total_steps(cfg):  # pragma: no cover - both count ceil(num_train / batch_size)
        raise RuntimeError(f"the loader has {steps_per_epoch} batches per epoch, expected {_total_steps(cfg) // cfg.epochs}")
    end = total_steps if stop_after_step is None else stop_after_step

    _log.info(
        "Set random seed to %d, deterministic: %s; %s, %d steps from step %d",
        seed, cfg.deterministic, cfg.exp_name, total_steps, step,
    )
    trace = _TraceSegments(model, work_dir, cfg.trace)
    train_started = time.perf_counter()
    last_ckpt: Path | None = None
    log_path = work_dir / "log.jsonl"
    model.train()
    try:
        # a fresh run starts a fresh log; a resumed one continues it
        with open(log_path, "a" if ckpt is not None else "w", encoding="utf-8") as log:
            trace.start(step)
            while step < end:
                batches = iter(loader)
                for img, targets in batches:
                    img = img.to(device)
                    targets = {k: v.to(device) for k, v in targets.items()}
                    parts = model(img, targets)
                    loss = torch.stack(list(parts.values())).sum()
                    trace.loss(loss)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    value = float(loss.item())
                    if not math.isfinite(value):
                        raise FloatingPointError(f"loss became {value} at step {step}; lower lr")
                    losses.append(value)
                    step += 1
                    record: dict[str, Any] = {"step": step, "epoch": (step - 1) // steps_per_epoch, "loss": value}
                    record.update({k: float(v.item()) for k, v in parts.items()})
                    epoch_end = step % steps_per_epoch == 0 or step == end
                    if epoch_end:  # where two runs' logs part, by epoch (reads the weights, draws nothing)
                        record["fingerprint"] = _fingerprint(model)
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                    if epoch_end:
                        recent = losses[-(((step - 1) % steps_per_epoch) + 1):]
                        _log.info(
                            "epoch %d, step %d/%d: mean loss %.4f, parameters %s",
                            record["epoch"], step, total_steps, sum(recent) / len(recent), record["fingerprint"],
                        )
                    interval_due = cfg.checkpoint_interval and step % cfg.checkpoint_interval == 0
                    if interval_due or step == end:
                        trace.stop()
                        last_ckpt = work_dir / f"iter_{step}.pth"
                        _save(last_ckpt, cfg, model, optimizer, loader, step, losses, meta,
                              segments + trace.segments,
                              wall_before + time.perf_counter() - train_started)
                        if step < end:
                            trace.start(step)
                    if step >= end:
                        break
                del batches
    except BaseException as exc:
        trace.stop(exc)
        raise
    trace.stop()
    train_time = wall_before + time.perf_counter() - train_started

    stopped = step < total_steps
    result: dict[str, Any] = {
        "fingerprint": _fingerprint(model),
        "map50": None,
        "ap": None,
        "steps": step,
        "total_steps": total_steps,
        "seed": seed,
        "exp_name": cfg.exp_name,
        "classes": list(classes),
        "hash_seed": meta["hash_seed"],
        "losses": losses,
        "stopped": stopped,
        "resumed_from": str(resume_from) if resume_from is not None else None,
        "checkpoint": str(last_ckpt) if last_ckpt else None,
        "trace": segments + trace.segments,
        "train_time_s": train_time,
        "wall_time_s": time.perf_counter() - started,
        "device": str(device),
        "workers": cfg.workers,
        "work_dir": str(work_dir),
        "config": cfg.to_dict(),
    }
    if not stopped:
        metrics = evaluate(model, val_set, device=device)
        result["map50"], result["ap"] = metrics["map"], metrics["ap"]
        with open(log_path, "a", encoding="utf-8") as log:  # the log's last record: the evaluation
            log.write(json.dumps({"step": step, "map50": result["map50"], "ap": result["ap"],
                                  "fingerprint": result["fingerprint"]}) + "\n")
    atomic_write_text(work_dir / "result.json", json.dumps(result, indent=1) + "\n")
    _log.info(
        "%s after %.1f s of training: mAP@0.5 %s, parameters %s", "stopped" if stopped else "finished",
        train_time, "-" if result["map50"] is None else f"{result['map50']:.4f}", result["fingerprint"],
    )
    return result


def _save(
    path: Path,
    cfg: DetectionConfig,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: Any,
    step: int,
    losses: list[float],
    meta: dict[str, Any],
    segments: list[list[Any]],
    train_time: float,
) -> None:
    checkpoint: dict[str, Any] = {
        "step": step,
        "config": cfg.to_dict(),
        "meta": {**meta, "trace": segments, "train_time_s": train_time},
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "history": {"loss": list(losses)},
    }
    if cfg.checkpoint_rng:
        checkpoint["rng"] = reprotorch.capture_rng_state().to_dict()
        if cfg.data_seeding:
            checkpoint["loader"] = loader.state_dict()
    save_checkpoint(path, checkpoint)
