"""The detection demo: an MMDetection-style training that is bit-reproducible, and the ablation of every control.

A complete small object-detection pipeline in pure PyTorch -- no torchvision,
no download: a synthetic "shapes" dataset (:mod:`.shapes`), augmentations that
draw from Python ``random``, NumPy and torch (:mod:`.augment`), a tiny
CenterNet-style detector with dropout (:mod:`.model`), focal and L1 losses,
mAP@0.5 (:mod:`.evaluate`), and a training entry that follows the seed
document's ``tools/train.py`` flow (:func:`train`).

``reprotorch demo`` runs :func:`reprotorch.demo.ablation.run_ablation`: the
training twice per randomness control, with that control off.

The demo is a user of reprotorch like any other: it uses only the public API
(``reprotorch`` and ``reprotorch.data``).
"""

from __future__ import annotations

from .ablation import ROWS, run_ablation
from .config import DetectionConfig
from .train import train

__all__ = ["DetectionConfig", "train", "run_ablation", "ROWS"]
