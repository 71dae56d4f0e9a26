"""What the bootstrap does inside a command's process once torch has been imported.

Imported by ``boot/sitecustomize.py`` from its post-import hook on ``torch`` (and
from its exit handler when torch was imported), never before: at that point
torch is loaded anyway, so importing reprotorch costs nothing noticeable, and a
process that never imports torch never imports this.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .._io import atomic_write_text

__all__ = ["on_torch_imported", "write_exit_report"]

# Seeded by the bootstrap when their own modules are imported (random, numpy.random).
_SEEDED_ON_THEIR_IMPORT = ("python", "numpy")


def on_torch_imported(boot: Any) -> None:
    """Seed torch's generators, set threads and determinism, and start the tracer, as configured.

    ``boot`` is the bootstrap's ``Boot`` object. Every source other than python
    and NumPy (torch, CUDA, MPS, XPU and plugin sources) gets
    ``derive_seed(seed, "source", name, bits=64)``, exactly what
    :func:`reprotorch.seed_everything` gives it.
    """
    import torch

    from ..seeding import _record_seed
    from ..sources import iter_sources

    cfg = boot.config
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    if cfg.seed is not None:
        boot_module = _boot_module(boot)
        for source in iter_sources(only_available=False):
            if source.name in _SEEDED_ON_THEIR_IMPORT or not source.available():
                continue
            source.seed(boot_module.derive_seed(cfg.seed, "source", source.name, bits=64))
            boot.seeded.append(source.name)
        _record_seed(cfg.seed)
    if cfg.deterministic:
        from ..determinism import set_deterministic

        set_deterministic("warn" if cfg.deterministic == "warn" else True)
    if cfg.trace and not boot.worker:
        from ..tracing import Tracer

        tracer = Tracer(cfg.trace)
        tracer.start()
        boot.tracer = tracer


def _boot_module(boot: Any) -> Any:
    import sys

    module = sys.modules.get("_reprotorch_boot")
    if module is None or not hasattr(module, "derive_seed"):
        raise RuntimeError("the reprotorch bootstrap module is not loaded")
    return module


def write_exit_report(boot: Any) -> None:
    """Write this process's manifest, as the program left it, for ``reprotorch run`` to merge."""
    from ..manifest import manifest

    boot_module = _boot_module(boot)
    if boot.tracer is not None:
        try:  # flush the trace before reporting it; closing twice is allowed
            boot.tracer.close()
        except Exception:
            pass
    document = {
        "process": boot_module.report_info(boot),
        "manifest": manifest(import_torch=False, probe_devices=False),
    }
    path = boot_module.report_path(boot)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write_text(path, json.dumps(document, allow_nan=False))
