"""mAP at IoU 0.5, computed the PASCAL VOC way (all-point interpolated AP per class).

Pure NumPy over the decoded detections, so the metric itself has no
randomness and no device-dependent arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["box_iou", "average_precision", "mean_average_precision", "evaluate"]


def box_iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """IoU of each row of ``boxes`` (n, 4) with ``box`` (4,), boxes as ``[x1, y1, x2, y2]``."""
    ix1 = np.maximum(boxes[:, 0], box[0])
    iy1 = np.maximum(boxes[:, 1], box[1])
    ix2 = np.minimum(boxes[:, 2], box[2])
    iy2 = np.minimum(boxes[:, 3], box[3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    area_b = (box[2] - box[0]) * (box[3] - box[1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the precision envelope (VOC 2010+ "all points")."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    changes = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[changes + 1] - r[changes]) * p[changes + 1]))


def mean_average_precision(
    detections: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    ground_truth: Sequence[tuple[np.ndarray, np.ndarray]],
    num_classes: int,
    iou_threshold: float = 0.5,
) -> dict[str, Any]:
    """``{"map": float, "ap": [per-class AP or None]}`` over images.

    ``detections[i] = (boxes (k, 4), scores (k,), labels (k,))`` and
    ``ground_truth[i] = (boxes (n, 4), labels (n,))``. Classes with no ground
    truth are left out of the mean (their AP is ``None``).
    """
    if len(detections) != len(ground_truth):
        raise ValueError(
            f"got detections for {len(detections)} images but ground truth for {len(ground_truth)}"
        )
    aps: list[float | None] = []
    for c in range(num_classes):
        gt_c = [gb[gl == c] for gb, gl in ground_truth]
        n_gt = sum(len(g) for g in gt_c)
        if n_gt == 0:
            aps.append(None)
            continue
        records = []  # (score, image, box)
        for i, (boxes, scores, labels) in enumerate(detections):
            for b, s in zip(boxes[labels == c], scores[labels == c]):
                records.append((float(s), i, b))
        # stable sort by descending score, ties by image order: no dependence on dict/set order
        records.sort(key=lambda r: -r[0])
        matched = [np.zeros(len(g), dtype=bool) for g in gt_c]
        tp = np.zeros(len(records))
        for j, (_, i, b) in enumerate(records):
            if len(gt_c[i]) == 0:
                continue
            iou = box_iou(gt_c[i], b)
            k = int(np.argmax(iou))
            if iou[k] >= iou_threshold and not matched[i][k]:
                matched[i][k] = True
                tp[j] = 1.0
        ctp = np.cumsum(tp)
        recall = ctp / n_gt
        precision = ctp / np.arange(1, len(records) + 1) if records else np.zeros(0)
        aps.append(average_precision(recall, precision))
    valid = [a for a in aps if a is not None]
    return {"map": float(np.mean(valid)) if valid else 0.0, "ap": aps}


@torch.no_grad()
def evaluate(model: Any, dataset: Any, *, batch_size: int = 32, device: Any = "cpu") -> dict[str, Any]:
    """mAP@0.5 of ``model`` on ``dataset`` (whose items are ``{"img", "bboxes", "labels"}``).

    Runs in ``eval()`` mode (no dropout, BatchNorm running statistics) and puts
    the model's previous mode back.
    """
    was_training = model.training
    model.eval()
    detections: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    ground_truth: list[tuple[np.ndarray, np.ndarray]] = []
    try:
        for start in range(0, len(dataset), batch_size):
            items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
            img = torch.stack([it["img"] for it in items]).to(device)
            for (boxes, scores, labels), it in zip(model.detect(img), items):
                detections.append((boxes.numpy(), scores.numpy(), labels.numpy()))
                ground_truth.append((it["bboxes"], it["labels"]))
    finally:
        model.train(was_training)
    return mean_average_precision(detections, ground_truth, model.num_classes, 0.5)
