"""A synthetic object-detection dataset: coloured shapes on a noisy background.

Every image and its annotations are a pure function of ``(content_seed, index)``,
computed with a local ``numpy.random.Generator``: the dataset stands in for
files on disk, so it must not draw from (or disturb) any global generator.
Randomness that training controls lives in the augmentation pipeline instead
(:mod:`reprotorch.demo.augment`).

The class list is built the way many real dataset classes build it -- from the
*set* of category names found in the annotations. Iterating a set of strings
follows their hashes, and string hashes are salted per interpreter unless
``PYTHONHASHSEED`` is fixed, so the label index of "circle" can change from one
process to the next. That is the hash-seed row of the ablation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["CATEGORY_NAMES", "ShapesDataset", "render_sample", "make_annotations"]

# Sorted here only for documentation; the dataset never uses this order.
CATEGORY_NAMES: tuple[str, ...] = ("circle", "cross", "ring", "square", "triangle")

_MIN_SIZE = 10
_MAX_SIZE = 24


def _local_rng(content_seed: int, index: int, purpose: int) -> np.random.Generator:
    # SeedSequence entropy + spawn key: independent streams per (dataset, index, purpose).
    return np.random.default_rng(np.random.SeedSequence(content_seed, spawn_key=(index, purpose)))


def make_annotations(content_seed: int, index: int, image_size: int) -> list[dict[str, Any]]:
    """The annotation record of image ``index``: 1 to 4 objects, each a category name and a box.

    Boxes are ``[x1, y1, x2, y2]`` in pixels (x2, y2 exclusive), fully inside the image.
    """
    rng = _local_rng(content_seed, index, 0)
    count = int(rng.integers(1, 5))
    objects = []
    for _ in range(count):
        name = CATEGORY_NAMES[int(rng.integers(len(CATEGORY_NAMES)))]
        size = int(rng.integers(_MIN_SIZE, _MAX_SIZE + 1))
        x1 = int(rng.integers(0, image_size - size + 1))
        y1 = int(rng.integers(0, image_size - size + 1))
        objects.append({"category": name, "bbox": [x1, y1, x1 + size, y1 + size]})
    return objects


def _shape_mask(name: str, size: int) -> np.ndarray:
    """A boolean ``size x size`` mask of one shape."""
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = np.sqrt((xx - c) ** 2 + (yy - c) ** 2)
    if name == "circle":
        return r <= size / 2.0
    if name == "ring":
        return (r <= size / 2.0) & (r >= size / 4.0)
    if name == "square":
        return np.ones((size, size), dtype=bool)
    if name == "cross":
        arm = max(1, size // 6)
        return (np.abs(xx - c) <= arm) | (np.abs(yy - c) <= arm)
    if name == "triangle":
        # apex at the top centre, base along the bottom row
        half_width = (yy + 1) / size * (size / 2.0)
        return np.abs(xx - c) <= half_width
    raise ValueError(f"unknown shape {name!r}; expected one of {CATEGORY_NAMES}")


def render_sample(content_seed: int, index: int, image_size: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Image ``index`` as ``float32`` HWC in [0, 1], and its annotations."""
    annotations = make_annotations(content_seed, index, image_size)
    rng = _local_rng(content_seed, index, 1)
    base = rng.uniform(0.1, 0.5, size=3).astype(np.float32)
    ramp = np.linspace(0.0, 0.15, image_size, dtype=np.float32)
    image = np.empty((image_size, image_size, 3), dtype=np.float32)
    image[:] = base
    image += ramp[None, :, None] if rng.integers(2) else ramp[:, None, None]
    image += rng.normal(0.0, 0.03, size=image.shape).astype(np.float32)
    for obj in annotations:
        x1, y1, x2, y2 = obj["bbox"]
        mask = _shape_mask(obj["category"], x2 - x1)
        colour = rng.uniform(0.55, 1.0, size=3).astype(np.float32)
        colour[int(rng.integers(3))] *= 0.3  # keep shapes saturated, distinct from the background
        patch = image[y1:y2, x1:x2]
        patch[mask] = colour
    np.clip(image, 0.0, 1.0, out=image)
    return image, annotations


class ShapesDataset:
    """A map-style detection dataset of ``length`` synthetic images.

    ``dataset[i]`` renders image ``i``, maps its category names to label indices
    through :attr:`CLASSES`, and passes ``{"img", "bboxes", "labels"}`` through
    ``pipeline`` (a callable on that dict, like an MMDetection pipeline).

    ``classes`` fixes the class list (a validation set reuses the training
    set's); by default it is ``tuple(set_of_names_in_the_annotations)``.
    """

    def __init__(
        self,
        length: int,
        *,
        image_size: int = 64,
        content_seed: int = 0,
        pipeline: Callable[[dict[str, Any]], Any] | None = None,
        classes: Sequence[str] | None = None,
    ) -> None:
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be a positive int, got {length!r}")
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 2 * _MAX_SIZE:
            raise ValueError(f"image_size must be an int >= {2 * _MAX_SIZE}, got {image_size!r}")
        self.length = length
        self.image_size = image_size
        self.content_seed = content_seed
        self.pipeline = pipeline
        # The "annotation file": cheap to build, read once, like a COCO json.
        self.annotations = [make_annotations(content_seed, i, image_size) for i in range(length)]
        if classes is None:
            # Deliberately the common, hash-order-dependent idiom (see the module docstring);
            # `reprotorch lint` rightly flags it, and the ablation's hash-seed row shows why.
            names = {obj["category"] for record in self.annotations for obj in record}
            classes = tuple(names)  # noqa: RPT001
        self.CLASSES: tuple[str, ...] = tuple(classes)
        self.cat2label = {name: i for i, name in enumerate(self.CLASSES)}

    def __len__(self) -> int:
        return self.length

    def raw(self, index: int) -> dict[str, Any]:
        """Image ``index`` before the pipeline: ``img`` (HWC float32), ``bboxes`` (n, 4), ``labels`` (n,)."""
        i = int(index)
        if not 0 <= i < self.length:
            raise IndexError(f"index {i} out of range for a dataset of {self.length} images")
        image, annotations = render_sample(self.content_seed, i, self.image_size)
        bboxes = np.array([obj["bbox"] for obj in annotations], dtype=np.float32).reshape(-1, 4)
        labels = np.array([self.cat2label[obj["category"]] for obj in annotations], dtype=np.int64)
        return {"img": image, "bboxes": bboxes, "labels": labels}

    def __getitem__(self, index: int) -> Any:
        results = self.raw(index)
        return self.pipeline(results) if self.pipeline is not None else results
