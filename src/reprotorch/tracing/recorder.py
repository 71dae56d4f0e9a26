"""The recorder: fingerprints of every value a training step produces, written as it runs.

A :class:`Tracer` installs forward hooks (on one model, or on every module through
PyTorch's global module hooks) and global optimizer step hooks, and appends one
line per observed value to a JSON Lines trace (format in
:mod:`reprotorch.tracing.format`). Two traces can then be aligned by
``(step, phase, module, call, tensor)`` and their first difference named
(:func:`reprotorch.compare_traces`).

Design constraints, and why:

* **Never change the run it observes.** Hooks only read tensors (hash and two
  reductions), draw no random numbers, return ``None``, and swallow their own
  errors (a value that cannot be hashed is recorded as an error instead).
* **Installable before the program runs.** ``reprotorch run --trace`` starts a
  tracer at interpreter start, before ``torch.distributed`` is initialised, so
  the file is opened lazily -- at the first flush, never before the first event --
  and only then is the rank known (``torch.distributed`` if initialised, else the
  ``RANK``/``WORLD_SIZE`` variables torchrun sets).
* **A bad path is refused up front; a write that fails later stops the tracer,
  not the run.** The file is opened lazily, inside a hook -- often inside
  ``optimizer.step()`` -- so an error there would crash the training it
  observes. The constructor therefore checks that the file's directory can be
  created, and an ``OSError`` while writing (disk full, directory removed)
  issues a ``RuntimeWarning`` and stops tracing; the run goes on, and the trace
  (without its end mark) reads as incomplete.
* **Survive being killed.** Lines are written with ``os.write`` on an unbuffered
  descriptor at every step boundary (and when a second passes or a thousand lines
  pile up), so a killed run leaves a readable prefix; ``atexit`` closes a tracer
  that the program forgot.
* **Stay out of worker processes.** DataLoader workers (fork or spawn) run
  modules too; their events are ignored, and a forked child can never write or
  truncate the parent's file: nothing is buffered in a Python file object, and
  a fork handler disarms every tracer in the child.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import platform
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..fingerprint import ALGORITHM, fingerprint, tensor_summary
from .format import FORMAT_NAME, FORMAT_VERSION, RECORD_CHOICES, trace_path_for_rank
from .rng import rng_fingerprints

__all__ = ["Tracer", "trace", "DEFAULT_RECORD"]

DEFAULT_RECORD = ("inputs", "outputs", "grads", "params", "loss", "rng")

_FLUSH_LINES = 1024
_FLUSH_SECONDS = 1.0
_MAX_OUTPUT_TENSORS = 64  # per module call: bounds the cost of huge output structures
_MAX_OUTPUT_DEPTH = 6
_CACHE_ENTRIES = 4096  # fingerprints reused within a step (a container's output is its child's)

_live: weakref.WeakSet[Tracer] = weakref.WeakSet()


def _disarm_in_child() -> None:
    """After ``fork``: the child must never write to (or truncate) the parent's trace."""
    for tracer in list(_live):
        tracer._disarm()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_disarm_in_child)


def _rank_and_world() -> tuple[int | None, int | None]:
    """From ``torch.distributed`` when initialised, else from torchrun's environment."""
    dist = sys.modules.get("torch.distributed")
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            return int(dist.get_rank()), int(dist.get_world_size())
    except Exception:  # noqa: BLE001 - a half-initialised group falls back to the environment
        pass
    try:
        rank = int(os.environ["RANK"])
        world = int(os.environ["WORLD_SIZE"])
    except (KeyError, ValueError):
        return None, None
    return rank, world


def _json_line(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


def _walk_tensors(obj: Any, prefix: str, out: list[tuple[str, Any]], depth: int = 0) -> None:
    """Collect ``(name, tensor)`` from a module output: tensors, sequences, mappings, dataclasses."""
    import torch

    if len(out) >= _MAX_OUTPUT_TENSORS or depth > _MAX_OUTPUT_DEPTH:
        return
    if isinstance(obj, torch.Tensor):
        out.append((prefix, obj))
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            _walk_tensors(v, f"{prefix}.{k}", out, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _walk_tensors(v, f"{prefix}.{i}", out, depth + 1)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            _walk_tensors(getattr(obj, f.name, None), f"{prefix}.{f.name}", out, depth + 1)


def _is_scalar_loss(t: Any) -> bool:
    return t.numel() == 1 and (t.is_floating_point() or t.is_complex())


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.stack: list[str] = []


class Tracer:
    """Record fingerprints of a training run's data, activations, gradients, parameters and RNG.

    Per step (steps are numbered from 0 and end at each optimizer step, or at
    :meth:`step` in loops without an optimizer) it records, as selected by
    ``record``:

    * ``"rng"`` -- every global generator's state at the step's start: when the
      tracer starts (step 0, or ``first_step``) and right after each step boundary;
    * ``"inputs"`` -- the tensors the top-level module received (phase ``data``);
    * ``"outputs"`` -- each module's forward output, keyed by qualified module
      name and call index within the step (phase ``forward``);
    * ``"loss"`` -- values passed to :meth:`loss`, and a top-level module output
      that is a scalar (or a mapping's scalar entries whose key contains "loss");
    * ``"grads"`` -- each parameter's gradient as the optimizer sees it, just
      before ``optimizer.step()`` (phase ``backward``);
    * ``"params"`` -- each parameter after the optimizer step (phase ``optimizer``).

    Each value is a fingerprint plus float64 ``sum`` and ``maxabs``. With
    ``model`` given, only that model's modules are hooked and names are its
    ``named_modules()`` names (the model itself is ``""``; modules added to it
    after :meth:`start` are not hooked). With ``model=None``
    every module is observed through PyTorch's global module hooks; a module
    first called outside any other module is a *root*, and names are the root's
    class name followed by the ``named_modules()`` path (``"Net.head.cls"``).
    Optimizer hooks are global in both modes. ``every=n`` records the values of
    steps 0, n, 2n, ... (boundaries are always counted).

    ``first_step=k`` numbers the first recorded step ``k`` instead of 0 (and is
    written to the header): a run resumed from a checkpoint taken after step
    ``k - 1`` then records the same step numbers as the uninterrupted run, and
    :func:`~reprotorch.compare_traces` compares the steps both traces cover.
    ``every`` counts from step 0 either way, so the recorded steps line up.

    The file is ``path``, or ``path`` with ``.rank<r>`` before the extension when
    the world size is above one. It is opened at the first flush, after the
    first event. Use as a context manager, or call :meth:`start` and
    :meth:`close` (idempotent; also registered with ``atexit``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        model: Any = None,
        every: int = 1,
        record: Iterable[str] = DEFAULT_RECORD,
        first_step: int = 0,
    ) -> None:
        if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                f"Tracer path must be a str or os.PathLike naming the trace file, got "
                f"{type(path).__name__} {path!r}"
            )
        if not os.fspath(path):
            raise ValueError("Tracer path is empty; pass the trace file to write, e.g. 'trace.jsonl'")
        if Path(path).is_dir():
            raise ValueError(f"Tracer path {os.fspath(path)!r} is a directory; pass a file path")
        _check_creatable(Path(os.fspath(path)))
        if isinstance(every, bool) or not isinstance(every, int):
            raise TypeError(f"every must be a positive int, got {type(every).__name__} {every!r}")
        if every < 1:
            raise ValueError(f"every must be >= 1 (record every n-th step), got {every}")
        if isinstance(first_step, bool) or not isinstance(first_step, int):
            raise TypeError(
                f"first_step must be an int (the number of the first step to record), got "
                f"{type(first_step).__name__} {first_step!r}"
            )
        if first_step < 0:
            raise ValueError(
                f"first_step must be >= 0 (steps are numbered from 0; a run resumed after "
                f"k completed steps starts at step k), got {first_step}"
            )
        if isinstance(record, str) or not isinstance(record, Iterable):
            raise TypeError(
                f"record must be a tuple of names such as ('outputs', 'grads'), got "
                f"{type(record).__name__} {record!r}"
            )
        record = tuple(record)
        unknown = [r for r in record if r not in RECORD_CHOICES]
        if unknown:
            raise ValueError(
                f"record has unknown item(s) {unknown}; choose from {list(RECORD_CHOICES)}"
            )
        if model is not None:
            import torch

            if not isinstance(model, torch.nn.Module):
                raise TypeError(
                    f"model must be a torch.nn.Module or None (trace every module), got "
                    f"{type(model).__name__}"
                )
        self._requested_path = Path(os.fspath(path))
        self._model = model
        self._every = every
        self._first_step = first_step
        self._record = frozenset(record)
        self._record_order = tuple(r for r in RECORD_CHOICES if r in self._record)

        self._lock = threading.RLock()
        self._tls = _ThreadState()
        self._handles: list[Any] = []
        self._started = False
        self._closed = False
        self._disarmed = False
        self._pid = -1
        self._fd: int | None = None
        self._path: Path | None = None
        self._pending: list[bytes] = []
        self._has_content = False  # anything beyond the first step's RNG snapshot
        self._last_flush = 0.0
        self._step = first_step
        self._completed_steps = 0
        self._recording = first_step % every == 0
        self._calls: dict[tuple[str, str, str], int] = {}
        self._cache: dict[int, tuple[Any, int, str, dict[str, Any]]] = {}
        self._root_marks: list[int | None] = []  # pending-list positions for late root kwargs
        self._names: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        self._param_names: dict[int, tuple[Any, str, str]] = {}
        self._optimizers: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._worker_info: Any = None
        self._is_compiling: Any = None

    # ------------------------------------------------------------------ public API
    @property
    def path(self) -> Path | None:
        """The file actually written (with the rank suffix), once it is open; else ``None``."""
        return self._path

    @property
    def current_step(self) -> int:
        """The number of the step being recorded (0-based, counted from ``first_step``)."""
        return self._step

    @property
    def first_step(self) -> int:
        """The number of the first step this tracer records (``first_step`` argument)."""
        return self._first_step

    @property
    def started(self) -> bool:
        """Whether :meth:`start` has run (the hooks are, or were, installed)."""
        return self._started

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run; a closed tracer cannot be started again."""
        return self._closed

    def start(self) -> Tracer:
        """Install the hooks and take the first step's RNG snapshot; returns ``self``."""
        if self._closed:
            raise RuntimeError("this Tracer was closed; create a new Tracer to trace again")
        if self._started:
            raise RuntimeError("this Tracer is already started")
        import torch
        import torch.optim.optimizer as optim_mod
        from torch.nn.modules import module as module_mod
        from torch.utils.data import get_worker_info

        self._worker_info = get_worker_info
        self._is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None)
        self._pid = os.getpid()
        self._last_flush = time.monotonic()
        handles: list[Any] = []
        try:
            if self._model is None:
                handles.append(module_mod.register_module_forward_pre_hook(self._global_pre))
                handles.append(
                    module_mod.register_module_forward_hook(
                        self._global_post, with_kwargs=True, always_call=True
                    )
                )
            else:
                self._hook_model(self._model, handles)
            handles.append(optim_mod.register_optimizer_step_pre_hook(self._optimizer_pre))
            handles.append(optim_mod.register_optimizer_step_post_hook(self._optimizer_post))
        except BaseException:
            for h in handles:
                h.remove()
            raise
        self._handles = handles
        self._started = True
        _live.add(self)
        atexit.register(self.close)
        if "rng" in self._record and self._recording:
            self._record_rng()
        return self

    def step(self) -> None:
        """Mark a step boundary in a loop without an optimizer (optimizer steps mark their own)."""
        self._require_started("step")
        if not self._active():
            return
        with self._lock:
            self._boundary()

    def loss(self, value: Any) -> None:
        """Record the loss of the current step (a tensor or a Python number)."""
        self._require_started("loss")
        import torch

        if isinstance(value, bool) or not isinstance(value, (torch.Tensor, int, float)):
            raise TypeError(
                f"Tracer.loss() expects a tensor or a number, got {type(value).__name__}"
            )
        if not self._active() or "loss" not in self._record or not self._recording:
            return
        with self._lock:
            if isinstance(value, torch.Tensor):
                self._tensor_event("loss", "", "loss", value)
            else:
                x = float(value)
                self._emit_value("loss", "", "loss", fingerprint(x), "float64", [],
                                 tensor_summary(torch.tensor(x, dtype=torch.float64)))

    def close(self) -> None:
        """Remove the hooks, write the end mark, flush and close the file. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for h in self._handles:
                h.remove()
            self._handles = []
            _live.discard(self)
            try:
                atexit.unregister(self.close)
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass
            if not self._started or self._disarmed or os.getpid() != self._pid:
                return
            if self._in_worker():
                return
            try:
                if self._has_content or self._fd is not None:
                    end: dict[str, Any] = {
                        "mark": "end",
                        "step": self._step,
                        "steps": self._completed_steps,
                    }
                    if "rng" in self._record:
                        end["rng"] = rng_fingerprints()
                    self._pending.append(_json_line(end))
                    self._flush()
            finally:
                if self._fd is not None:
                    try:
                        os.fsync(self._fd)
                    except OSError:
                        pass
                    os.close(self._fd)
                    self._fd = None

    def __enter__(self) -> Tracer:
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("started" if self._started else "not started")
        where = self._path or self._requested_path
        return f"<Tracer {str(where)!r} step={self._step} {state}>"

    # ------------------------------------------------------------------ internals
    def _require_started(self, what: str) -> None:
        if not self._started:
            raise RuntimeError(f"Tracer.{what}() called before start(); use 'with Tracer(...)' or call start()")
        if self._closed:
            raise RuntimeError(f"Tracer.{what}() called after close()")

    def _disarm(self) -> None:
        self._disarmed = True
        self._pending = []
        self._fd = None  # the descriptor belongs to the parent; never write or close it here

    def _in_worker(self) -> bool:
        return self._worker_info is not None and self._worker_info() is not None

    def _active(self) -> bool:
        if self._closed or self._disarmed or os.getpid() != self._pid:
            return False
        if self._in_worker():
            return False
        if self._is_compiling is not None and self._is_compiling():
            return False  # values under torch.compile tracing are fake
        return True

    # --- naming -------------------------------------------------------------------
    def _hook_model(self, model: Any, handles: list[Any]) -> None:
        for name, module in model.named_modules():
            self._names[module] = name
        self._learn_params(model, "")
        handles.append(model.register_forward_pre_hook(self._model_root_pre, with_kwargs=True))
        for name, module in model.named_modules():
            handles.append(
                module.register_forward_hook(
                    self._make_model_post(name, module is model), with_kwargs=True, always_call=True
                )
            )

    def _learn_params(self, root: Any, prefix: str) -> None:
        for pname, p in root.named_parameters(remove_duplicate=True):
            full = f"{prefix}.{pname}" if prefix else pname
            module, _, leaf = full.rpartition(".")
            if id(p) not in self._param_names or self._param_names[id(p)][0]() is not p:
                self._param_names[id(p)] = (weakref.ref(p), module, leaf)

    def _global_name(self, module: Any, stack: list[str]) -> str:
        name = self._names.get(module)
        if name is not None:
            return name
        if stack:  # created on the fly, or added after its root was first seen
            name = f"{stack[-1]}.<{type(module).__name__}>"
            self._names[module] = name
            return name
        prefix = type(module).__name__
        for sub_name, sub in module.named_modules():
            if sub not in self._names:
                self._names[sub] = f"{prefix}.{sub_name}" if sub_name else prefix
        self._learn_params(module, prefix)
        return self._names[module]

    def _param_name(self, optimizer: Any, group: int, index: int, p: Any) -> tuple[str, str]:
        entry = self._param_names.get(id(p))
        if entry is not None and entry[0]() is p:
            return entry[1], entry[2]
        number = self._optimizers.get(optimizer)
        if number is None:
            number = len(self._optimizers)
            self._optimizers[optimizer] = number
        return f"optimizer{number}", f"param_groups.{group}.params.{index}"

    # --- hooks ----------------------------------------------------------------------
    def _model_root_pre(self, module: Any, args: Any, kwargs: Any) -> None:
        if not self._active() or "inputs" not in self._record or not self._recording:
            return
        try:
            with self._lock:
                self._record_inputs("", args, kwargs)
        except Exception:  # noqa: BLE001 - never break the traced run
            pass

    def _make_model_post(self, name: str, is_root: bool) -> Any:
        def hook(module: Any, args: Any, *rest: Any) -> None:
            if not rest or not self._active() or not self._recording:
                return
            try:
                with self._lock:
                    self._record_outputs(name, rest[-1], is_root)
            except Exception:  # noqa: BLE001
                pass

        return hook

    def _global_pre(self, module: Any, args: Any) -> None:
        if not self._active():
            return
        try:
            with self._lock:
                stack = self._tls.stack
                name = self._global_name(module, stack)
                is_root = not stack
                stack.append(name)
                if is_root:
                    if "inputs" in self._record and self._recording:
                        self._record_inputs(name, args, None)
                        self._root_marks.append(len(self._pending))
                    else:
                        self._root_marks.append(None)
        except Exception:  # noqa: BLE001
            pass

    def _global_post(self, module: Any, args: Any, *rest: Any) -> None:
        if not self._active():
            return
        try:
            stack = self._tls.stack
            if not stack:
                return
            name = stack.pop()
            is_root = not stack
            output = rest[-1] if rest else None
            kwargs = rest[0] if len(rest) == 2 else None
            with self._lock:
                if is_root:
                    mark = self._root_marks.pop() if self._root_marks else None
                    if kwargs and mark is not None and mark <= len(self._pending):
                        # Inputs passed by keyword reach only the post-hook; put their
                        # events where the pre-hook recorded the positional ones.
                        tail = self._pending[mark:]
                        del self._pending[mark:]
                        self._record_kwargs(name, kwargs)
                        self._pending.extend(tail)
                if self._recording and output is not None:
                    self._record_outputs(name, output, is_root)
                if is_root:
                    self._maybe_flush()
        except Exception:  # noqa: BLE001
            pass

    def _optimizer_pre(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if not self._active() or "grads" not in self._record or not self._recording:
            return
        try:
            with self._lock:
                for g, group in enumerate(optimizer.param_groups):
                    for i, p in enumerate(group["params"]):
                        if p.grad is not None:
                            module, leaf = self._param_name(optimizer, g, i, p)
                            self._tensor_event("backward", module, leaf, p.grad)
        except Exception:  # noqa: BLE001
            pass

    def _optimizer_post(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if not self._active():
            return
        with self._lock:
            try:
                if "params" in self._record and self._recording:
                    for g, group in enumerate(optimizer.param_groups):
                        for i, p in enumerate(group["params"]):
                            module, leaf = self._param_name(optimizer, g, i, p)
                            self._tensor_event("optimizer", module, leaf, p)
            except Exception:  # noqa: BLE001
                pass
            self._boundary()

    # --- recording --------------------------------------------------------------------
    def _record_inputs(self, module: str, args: Any, kwargs: Any) -> None:
        found: list[tuple[str, Any]] = []
        _walk_tensors(tuple(args), "input", found)
        call = self._next_call("data", module, "")
        for tensor_name, t in found:
            self._tensor_event("data", module, tensor_name, t, call=call)
        if kwargs:
            self._record_kwargs(module, kwargs, call)

    def _record_kwargs(self, module: str, kwargs: Any, call: int | None = None) -> None:
        if call is None:
            call = max(self._calls.get(("data", module, ""), 1) - 1, 0)
        found: list[tuple[str, Any]] = []
        for key, value in kwargs.items():
            _walk_tensors(value, f"input.{key}", found)
        for tensor_name, t in found:
            self._tensor_event("data", module, tensor_name, t, call=call)

    def _record_outputs(self, module: str, output: Any, is_root: bool) -> None:
        found: list[tuple[str, Any]] = []
        _walk_tensors(output, "output", found)
        if not found:
            return
        call = self._next_call("forward", module, "")
        for tensor_name, t in found:
            lossy = is_root and _is_scalar_loss(t) and (
                tensor_name == "output" or "loss" in tensor_name.rsplit(".", 1)[-1].lower()
            )
            if lossy:
                if "loss" in self._record:
                    self._tensor_event("loss", module, tensor_name, t, call=call)
            elif "outputs" in self._record:
                self._tensor_event("forward", module, tensor_name, t, call=call)

    def _next_call(self, phase: str, module: str, tensor: str) -> int:
        key = (phase, module, tensor)
        n = self._calls.get(key, 0)
        self._calls[key] = n + 1
        return n

    def _tensor_event(self, phase: str, module: str, tensor_name: str, t: Any,
                      call: int | None = None) -> None:
        if call is None:
            call = self._next_call(phase, module, tensor_name)
        try:
            fp, summary = self._hash(t)
        except Exception as exc:  # noqa: BLE001 - record the failure, keep the run going
            self._emit_value(phase, module, tensor_name, None, str(t.dtype).replace("torch.", ""),
                             list(t.shape), {}, call=call, error=f"{type(exc).__name__}: {exc}")
            return
        self._emit_value(phase, module, tensor_name, fp, str(t.dtype).replace("torch.", ""),
                         list(t.shape), summary, call=call)

    def _hash(self, t: Any) -> tuple[str, dict[str, Any]]:
        """Fingerprint and summary, reusing the result for a tensor already seen unchanged this step."""
        key = id(t)
        try:
            version = t._version
        except RuntimeError:  # inference-mode tensors have no version counter: no reuse
            return fingerprint(t), tensor_summary(t)
        hit = self._cache.get(key)
        if hit is not None and hit[0]() is t and hit[1] == version:
            return hit[2], hit[3]
        fp = fingerprint(t)
        summary = tensor_summary(t)
        if len(self._cache) >= _CACHE_ENTRIES:  # loops without step boundaries
            self._cache.clear()
        try:
            self._cache[key] = (weakref.ref(t), version, fp, summary)
        except TypeError:
            pass
        return fp, summary

    def _emit_value(self, phase: str, module: str, tensor_name: str, fp: str | None, dtype: str,
                    shape: list[int], summary: dict[str, Any], *, call: int | None = None,
                    error: str | None = None) -> None:
        if call is None:
            call = self._next_call(phase, module, tensor_name)
        event: dict[str, Any] = {
            "step": self._step,
            "phase": phase,
            "module": module,
            "call": call,
            "tensor": tensor_name,
            "fp": fp,
            "dtype": dtype,
            "shape": shape,
        }
        event.update(summary)
        if error is not None:
            event["error"] = error
        self._pending.append(_json_line(event))
        self._has_content = True
        if not self._root_marks:
            self._maybe_flush()

    def _record_rng(self) -> None:
        for name, fp in rng_fingerprints().items():
            event = {"step": self._step, "phase": "rng", "module": "", "call": 0,
                     "tensor": name, "fp": fp}
            self._pending.append(_json_line(event))

    def _boundary(self) -> None:
        self._pending.append(_json_line({"mark": "step", "step": self._step}))
        self._has_content = True
        self._completed_steps += 1
        self._step += 1
        self._calls.clear()
        self._cache.clear()
        self._root_marks.clear()
        self._recording = self._step % self._every == 0
        if self._recording and "rng" in self._record:
            self._record_rng()
        self._flush()

    # --- the file ------------------------------------------------------------------------
    def _maybe_flush(self) -> None:
        if len(self._pending) >= _FLUSH_LINES or time.monotonic() - self._last_flush > _FLUSH_SECONDS:
            self._flush()

    def _open(self) -> None:
        rank, world = _rank_and_world()
        suffix_rank = rank if (world is not None and world > 1) else None
        path = trace_path_for_rank(self._requested_path, suffix_rank)
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
        self._fd = fd
        self._path = path
        import torch

        from .. import __version__

        header = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "fingerprint": ALGORITHM,
            "rank": rank if rank is not None else 0,
            "world_size": world if world is not None else 1,
            "scope": "global" if self._model is None else "model",
            "model": None if self._model is None else type(self._model).__name__,
            "record": list(self._record_order),
            "every": self._every,
            "first_step": self._first_step,
            "pid": self._pid,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "reprotorch": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        }
        self._write(_json_line(header))

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def _flush(self) -> None:
        if not self._pending or self._disarmed or os.getpid() != self._pid:
            return
        try:
            if self._fd is None:
                if not self._has_content:
                    return  # only the first RNG snapshot so far: do not create the file yet
                self._open()
            data = b"".join(self._pending)
            self._pending = []
            self._write(data)
        except OSError as exc:
            self._stop_after_write_error(exc)
            return
        self._last_flush = time.monotonic()

    def _stop_after_write_error(self, exc: OSError) -> None:
        """Stop tracing (never the traced run) after the trace file could not be written."""
        where = self._path or self._requested_path
        fd, self._fd = self._fd, None
        self._disarmed = True  # every hook is inactive from now on; close() writes nothing
        self._pending = []
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
        warnings.warn(
            f"reprotorch: cannot write the trace file {str(where)!r} ({type(exc).__name__}: {exc}); "
            f"tracing stopped at step {self._step}, the run goes on. The trace, if any, has no "
            "end mark and compares as incomplete.",
            RuntimeWarning,
            stacklevel=2,
        )


def _check_creatable(path: Path) -> None:
    """A clear ``ValueError`` now for a trace file that could never be created (the file opens lazily)."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        raise ValueError(
            f"Tracer path {str(path)!r} cannot be created: {str(ancestor)!r} is a file, not a "
            "directory; choose a path in a directory"
        )
    if ancestor.is_dir() and not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValueError(
            f"Tracer path {str(path)!r} cannot be created: the directory {str(ancestor)!r} is "
            "not writable; choose a writable location"
        )


@contextmanager
def trace(
    model: Any = None,
    path: str | os.PathLike[str] | None = None,
    *,
    every: int = 1,
    record: Iterable[str] = DEFAULT_RECORD,
    first_step: int = 0,
) -> Iterator[Tracer]:
    """Trace the block: ``with reprotorch.trace(model, "run.jsonl") as t: ...``.

    Yields the started :class:`Tracer` (with ``.step()`` and ``.loss(value)``) and
    closes it on exit, also when the block raises. ``trace("run.jsonl")`` (a path
    as the only positional argument) traces every module. ``first_step=k`` numbers
    the steps of a run resumed after ``k`` completed steps from ``k`` (see
    :class:`Tracer`).
    """
    if path is None and isinstance(model, (str, os.PathLike)):
        model, path = None, model
    if path is None:
        raise TypeError("trace() needs path=..., the trace file to write (e.g. 'trace.jsonl')")
    tracer = Tracer(path, model=model, every=every, record=record, first_step=first_step)
    tracer.start()
    try:
        yield tracer
    finally:
        tracer.close()
