"""The demo's training configuration: one dataclass, saved and loaded as JSON.

MMDetection configs are Python files that are executed to be read; this one is
plain JSON, so a config handed to ``reprotorch demo train --config`` can never
run code. The last group of fields are the randomness controls that the
ablation turns off one at a time; every one of them is on by default.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DetectionConfig", "SEED_SOURCES"]

# The generators the seed document's set_random_seed seeds, in its order.
SEED_SOURCES: tuple[str, ...] = ("python", "numpy", "torch", "cuda")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class DetectionConfig:
    """Everything that decides a training run of the detection demo.

    Training: ``seed`` (``None``: :func:`reprotorch.init_random_seed` picks one),
    ``deterministic``, ``workers`` (``workers_per_gpu``), ``epochs``,
    ``batch_size`` (``samples_per_gpu``), ``checkpoint_interval`` (in steps;
    0 keeps only the final checkpoint and the one written by
    ``stop_after_step``), data and model sizes, optimiser, ``device``
    (``"auto"``: CUDA when available) and ``num_threads`` (intra-op CPU threads,
    fixed because the summation order of CPU kernels can depend on it; ``None``
    leaves torch's setting alone).

    Randomness controls (all on by default; the ablation turns one off per row):

    - ``seed_sources``: the global generators seeded at start-up -- the seed
      document's ``random.seed``, ``np.random.seed``, ``torch.manual_seed`` and
      ``torch.cuda.manual_seed_all``;
    - ``cudnn_benchmark``: cuDNN autotuning (only with ``deterministic=False``);
    - ``data_seeding``: per-sample data seeding through
      :func:`reprotorch.data.build_dataloader`; ``False`` is the seed document's
      pipeline (a plain ``DataLoader`` with a ``worker_init_fn``);
    - ``checkpoint_rng``: checkpoints carry the RNG and loader state, so a resume
      continues exactly; ``False`` restarts the interrupted epoch with the
      generators as seeded at start-up (MMCV's resume). An exact resume also
      needs ``data_seeding``: the seed document's plain ``DataLoader`` has no
      position to save, so with ``data_seeding=False`` a mid-epoch resume always
      restarts the epoch (``train`` logs a warning saying so).
    """

    seed: int | None = 1333
    deterministic: bool = True
    workers: int = 0
    epochs: int = 10
    batch_size: int = 16
    checkpoint_interval: int = 0
    num_train: int = 320
    num_val: int = 96
    image_size: int = 64
    width: int = 32
    dropout: float = 0.1
    lr: float = 0.004
    weight_decay: float = 1e-4
    device: str = "auto"
    num_threads: int | None = 1
    exp_name: str = "shapes_centernet"
    trace: bool = True
    # randomness controls
    seed_sources: tuple[str, ...] = field(default=SEED_SOURCES)
    cudnn_benchmark: bool = False
    data_seeding: bool = True
    checkpoint_rng: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.seed_sources, list):
            self.seed_sources = tuple(self.seed_sources)
        self.validate()

    def validate(self) -> None:
        """Raise ``TypeError`` / ``ValueError`` naming the first bad field; changes nothing."""
        if self.seed is not None:
            if not _is_int(self.seed):
                raise TypeError(f"seed must be an int or None, got {type(self.seed).__name__} {self.seed!r}")
            if not 0 <= self.seed < 2**32:
                raise ValueError(f"seed must be in [0, 2**32 - 1], got {self.seed}")
        for name in ("deterministic", "trace", "cudnn_benchmark", "data_seeding", "checkpoint_rng"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        minimum = {"workers": 0, "epochs": 1, "batch_size": 1, "checkpoint_interval": 0,
                   "num_train": 1, "num_val": 1, "width": 4}
        for name, low in minimum.items():
            value = getattr(self, name)
            if not _is_int(value):
                raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
            if value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}")
        if not _is_int(self.image_size) or self.image_size < 48 or self.image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4 and >= 48, got {self.image_size!r}")
        if self.width % 2:
            raise ValueError(f"width must be even, got {self.width}")
        for name in ("dropout", "lr", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.lr <= 0 or self.weight_decay < 0:
            raise ValueError(f"lr must be > 0 and weight_decay >= 0, got {self.lr} and {self.weight_decay}")
        if not isinstance(self.device, str) or not self.device:
            raise TypeError(f"device must be a non-empty str ('auto', 'cpu', 'cuda', 'cuda:1'), got {self.device!r}")
        if self.num_threads is not None and (not _is_int(self.num_threads) or self.num_threads < 1):
            raise ValueError(f"num_threads must be a positive int or None, got {self.num_threads!r}")
        if not isinstance(self.exp_name, str) or not self.exp_name:
            raise TypeError(f"exp_name must be a non-empty str, got {self.exp_name!r}")
        if not isinstance(self.seed_sources, (tuple, list)) or not all(isinstance(s, str) for s in self.seed_sources):
            raise TypeError(f"seed_sources must be a list of source names, got {self.seed_sources!r}")
        unknown = [s for s in self.seed_sources if s not in SEED_SOURCES]
        if unknown:
            raise ValueError(f"seed_sources has unknown names {unknown}; expected a subset of {list(SEED_SOURCES)}")
        if self.cudnn_benchmark and self.deterministic:
            raise ValueError("cudnn_benchmark=True contradicts deterministic=True; set deterministic to false")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``seed_sources`` as a list)."""
        out = dataclasses.asdict(self)
        out["seed_sources"] = list(self.seed_sources)
        return out

    @classmethod
    def from_dict(cls, data: Any) -> DetectionConfig:
        """Build from a mapping of field names; unknown names are an error, missing ones take defaults."""
        if not isinstance(data, dict):
            raise TypeError(f"a DetectionConfig document must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown config fields {unknown}; known fields: {sorted(names)}")
        return cls(**data)

    def save(self, path: str | Path) -> None:
        """Write as indented JSON (atomically: temporary file, then rename)."""
        from .checkpoint import atomic_write_text

        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> DetectionConfig:
        """Read a JSON config; a missing, non-JSON or invalid file raises a clear error."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFoundError(f"config file {str(p)!r} does not exist") from None
        except UnicodeDecodeError:
            raise ValueError(f"config file {str(p)!r} is not UTF-8 JSON") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"config file {str(p)!r} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                f"{exc.msg}); the demo reads JSON configs, not Python files"
            ) from None
        return cls.from_dict(data)
