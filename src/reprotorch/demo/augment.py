"""The training pipeline: augmentations that draw from the *global* generators.

Each transform uses the generator real pipelines use for it -- Python
``random`` for the flip (as torchvision's ``RandomHorizontalFlip`` and
MMDetection's ``RandomFlip`` do), NumPy's global ``np.random`` for the scale
jitter and crop (as MMDetection's ``Resize``/``RandomCrop`` do), and torch for
colour jitter and noise. They deliberately take no generator argument: the point
of the demo is to show which global seed each of them depends on, and that
:class:`reprotorch.data.SeededDataset` makes them a function of
(seed, epoch, sample index) without changing them.

A pipeline step is a callable on a results dict ``{"img", "bboxes", "labels"}``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .targets import encode_targets

__all__ = [
    "Compose",
    "RandomFlip",
    "RandomScaleCrop",
    "ToTensor",
    "ColorJitter",
    "GaussianNoise",
    "Normalize",
    "EncodeTargets",
    "train_pipeline",
    "eval_pipeline",
    "MEAN",
    "STD",
]

MEAN = (0.35, 0.35, 0.35)
STD = (0.25, 0.25, 0.25)

Results = dict[str, Any]


class Compose:
    """Apply the steps in order."""

    def __init__(self, steps: Sequence[Callable[[Results], Any]]) -> None:
        self.steps = list(steps)

    def __call__(self, results: Results) -> Any:
        for step in self.steps:
            results = step(results)
        return results


class RandomFlip:
    """Horizontal flip with probability ``p``; draws from Python's global ``random``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, results: Results) -> Results:
        if random.random() < self.p:
            img = results["img"]
            width = img.shape[1]
            results["img"] = np.ascontiguousarray(img[:, ::-1])
            boxes = results["bboxes"].copy()
            boxes[:, 0] = width - results["bboxes"][:, 2]
            boxes[:, 2] = width - results["bboxes"][:, 0]
            results["bboxes"] = boxes
        return results


class RandomScaleCrop:
    """Scale jitter then a random crop (or pad) back to the input size; draws from ``np.random``.

    Boxes are scaled, shifted and clipped; a box that keeps less than
    ``min_visible`` of its area is dropped.
    """

    def __init__(self, scale: tuple[float, float] = (0.75, 1.25), min_visible: float = 0.5) -> None:
        self.scale = scale
        self.min_visible = min_visible

    def __call__(self, results: Results) -> Results:
        img = results["img"]
        h, w = img.shape[:2]
        s = float(np.random.uniform(*self.scale))
        nh, nw = max(1, round(h * s)), max(1, round(w * s))
        # nearest-neighbour resize by index arithmetic: exact and identical on every platform
        rows = np.minimum((np.arange(nh) * h) // nh, h - 1)
        cols = np.minimum((np.arange(nw) * w) // nw, w - 1)
        scaled = img[rows][:, cols]
        fill = img.mean(axis=(0, 1), dtype=np.float32)
        canvas = np.empty_like(img)
        canvas[:] = fill
        # offset of the scaled image inside the canvas (negative: the scaled image is cropped)
        oy = int(np.random.randint(min(0, h - nh), max(0, h - nh) + 1))
        ox = int(np.random.randint(min(0, w - nw), max(0, w - nw) + 1))
        sy0, sx0 = max(0, -oy), max(0, -ox)
        dy0, dx0 = max(0, oy), max(0, ox)
        ch, cw = min(h - dy0, nh - sy0), min(w - dx0, nw - sx0)
        canvas[dy0 : dy0 + ch, dx0 : dx0 + cw] = scaled[sy0 : sy0 + ch, sx0 : sx0 + cw]

        boxes = results["bboxes"] * np.array([nw / w, nh / h, nw / w, nh / h], dtype=np.float32)
        boxes += np.array([ox, oy, ox, oy], dtype=np.float32)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        clipped = boxes.copy()
        np.clip(clipped[:, 0::2], 0, w, out=clipped[:, 0::2])
        np.clip(clipped[:, 1::2], 0, h, out=clipped[:, 1::2])
        kept_area = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
        keep = kept_area >= self.min_visible * np.maximum(area, 1e-6)
        results["img"] = canvas
        results["bboxes"] = clipped[keep].reshape(-1, 4)
        results["labels"] = results["labels"][keep]
        return results


class ToTensor:
    """HWC ``float32`` NumPy image -> CHW torch tensor."""

    def __call__(self, results: Results) -> Results:
        results["img"] = torch.from_numpy(np.ascontiguousarray(results["img"].transpose(2, 0, 1)))
        return results


class ColorJitter:
    """Random brightness and contrast; draws from torch's global generator."""

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2) -> None:
        self.brightness = brightness
        self.contrast = contrast

    def __call__(self, results: Results) -> Results:
        img = results["img"]
        b, c = (torch.rand(2) * 2.0 - 1.0).tolist()
        mean = img.mean()
        img = (img - mean) * (1.0 + c * self.contrast) + mean
        results["img"] = (img * (1.0 + b * self.brightness)).clamp_(0.0, 1.0)
        return results


class GaussianNoise:
    """Additive Gaussian pixel noise; draws from torch's global generator."""

    def __init__(self, sigma: float = 0.03) -> None:
        self.sigma = sigma

    def __call__(self, results: Results) -> Results:
        img = results["img"]
        results["img"] = (img + torch.randn(img.shape) * self.sigma).clamp_(0.0, 1.0)
        return results


class Normalize:
    """Subtract the mean and divide by the standard deviation, per channel."""

    def __call__(self, results: Results) -> Results:
        mean = torch.tensor(MEAN).view(3, 1, 1)
        std = torch.tensor(STD).view(3, 1, 1)
        results["img"] = (results["img"] - mean) / std
        return results


class EncodeTargets:
    """Final step: ``(img, targets)`` with the CenterNet training targets (no randomness)."""

    def __init__(self, num_classes: int, stride: int = 4) -> None:
        self.num_classes = num_classes
        self.stride = stride

    def __call__(self, results: Results) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        img = results["img"]
        targets = encode_targets(
            results["bboxes"], results["labels"], self.num_classes,
            (img.shape[1] // self.stride, img.shape[2] // self.stride), self.stride,
        )
        return img, targets


def train_pipeline(num_classes: int) -> Compose:
    """Flip (python) -> scale/crop (numpy) -> colour jitter and noise (torch) -> normalise -> targets."""
    return Compose([
        RandomFlip(0.5),
        RandomScaleCrop((0.75, 1.25)),
        ToTensor(),
        ColorJitter(0.2, 0.2),
        GaussianNoise(0.03),
        Normalize(),
        EncodeTargets(num_classes),
    ])


def eval_pipeline() -> Compose:
    """No augmentation: tensor and normalisation only; returns the results dict (boxes kept for mAP)."""
    return Compose([ToTensor(), Normalize()])
