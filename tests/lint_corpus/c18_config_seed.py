"""Experiment config helpers that invent seeds."""
import hashlib
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import torch


@dataclass
class ExperimentConfig:
    name: str = "baseline"
    lr: float = 1e-3
    seed: int = field(default_factory=lambda: os.getpid())  # expect: RPT005
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)


def seed_from_name(name: str) -> int:
    return hash(name) % (2**31)  # expect: RPT005


def stable_seed_from_name(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % (2**31)


def run_dir(cfg: ExperimentConfig) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return os.path.join("runs", f"{cfg.name}-{stamp}-{cfg.run_id}")


def init(cfg: ExperimentConfig):
    seed = int.from_bytes(os.urandom(4), "little")  # expect: RPT005
    torch.manual_seed(seed)
    return seed


def init_from_clock():
    torch.manual_seed(datetime.now().microsecond)  # expect: RPT005
