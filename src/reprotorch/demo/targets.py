"""CenterNet-style target encoding and detection decoding (no randomness in either).

An object is a Gaussian peak at its centre in a per-class heatmap on the
stride-4 feature grid, plus its width/height and the sub-cell offset of its
centre, regressed at the peak cell ("Objects as Points", Zhou et al., 2019).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["gaussian_radius", "encode_targets", "decode_detections"]


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """The largest centre shift that keeps IoU >= ``min_overlap`` with the true box (CornerNet's formula)."""
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2**2 - 16 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def encode_targets(
    bboxes: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    grid: tuple[int, int],
    stride: int,
) -> dict[str, torch.Tensor]:
    """Dense training targets on a ``grid = (h, w)`` feature map.

    Returns ``heatmap`` (C, h, w), ``wh`` (2, h, w) in grid units, ``offset``
    (2, h, w) and ``mask`` (1, h, w), all ``float32``; ``wh``, ``offset`` and
    ``mask`` are non-zero only at object centres.
    """
    h, w = grid
    heatmap = np.zeros((num_classes, h, w), dtype=np.float32)
    wh = np.zeros((2, h, w), dtype=np.float32)
    offset = np.zeros((2, h, w), dtype=np.float32)
    mask = np.zeros((1, h, w), dtype=np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    for box, label in zip(bboxes.tolist(), labels.tolist()):
        x1, y1, x2, y2 = (v / stride for v in box)
        bw, bh = x2 - x1, y2 - y1
        if bw <= 0 or bh <= 0:
            continue
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        ix, iy = min(int(cx), w - 1), min(int(cy), h - 1)
        radius = max(0.0, gaussian_radius(bh, bw))
        sigma = (2 * radius + 1) / 6
        g = np.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma * sigma)).astype(np.float32)
        np.maximum(heatmap[label], g, out=heatmap[label])
        wh[:, iy, ix] = (bw, bh)
        offset[:, iy, ix] = (cx - ix, cy - iy)
        mask[0, iy, ix] = 1.0
    return {
        "heatmap": torch.from_numpy(heatmap),
        "wh": torch.from_numpy(wh),
        "offset": torch.from_numpy(offset),
        "mask": torch.from_numpy(mask),
    }


@torch.no_grad()
def decode_detections(
    heatmap_logits: torch.Tensor,
    wh: torch.Tensor,
    offset: torch.Tensor,
    stride: int,
    *,
    top_k: int = 20,
    score_threshold: float = 0.05,
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per image ``(boxes (k, 4) in pixels, scores (k,), labels (k,))`` from the head outputs.

    Peaks are cells that equal the 3x3 max of their neighbourhood (CenterNet's
    max-pool "NMS"); the ``top_k`` strongest above ``score_threshold`` are kept.
    """
    heat = heatmap_logits.float().sigmoid()
    peaks = heat == F.max_pool2d(heat, 3, stride=1, padding=1)
    heat = heat * peaks
    n, c, h, w = heat.shape
    scores, idx = heat.view(n, -1).topk(min(top_k, c * h * w), dim=1)
    out = []
    for i in range(n):
        keep = scores[i] > score_threshold
        s, k = scores[i][keep], idx[i][keep]
        cls = k // (h * w)
        cell = k % (h * w)
        cy, cx = (cell // w).float(), (cell % w).float()
        ox, oy = offset[i, 0].reshape(-1)[cell], offset[i, 1].reshape(-1)[cell]
        bw, bh = wh[i, 0].reshape(-1)[cell], wh[i, 1].reshape(-1)[cell]
        px, py = cx + ox, cy + oy
        boxes = torch.stack([px - bw / 2, py - bh / 2, px + bw / 2, py + bh / 2], dim=1) * stride
        out.append((boxes.cpu(), s.cpu(), cls.cpu()))
    return out
