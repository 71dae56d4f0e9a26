"""The detector's losses: CenterNet's penalty-reduced focal loss and masked L1.

Both normalise by the number of objects in the batch (at least one), so a batch
whose augmentations cropped every object away still gives a finite loss.
"""

from __future__ import annotations

import torch

__all__ = ["focal_loss", "masked_l1_loss"]


def focal_loss(logits: torch.Tensor, target: torch.Tensor, *, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """Pixel-wise focal loss against Gaussian-splatted heatmaps (CornerNet / CenterNet variant).

    Cells where ``target == 1`` are positives; elsewhere the penalty is reduced
    by ``(1 - target) ** beta`` near an object centre.
    """
    pred = logits.float().sigmoid().clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1).float()
    neg = 1.0 - pos
    pos_loss = torch.log(pred) * (1 - pred) ** alpha * pos
    neg_loss = torch.log(1 - pred) * pred**alpha * (1 - target) ** beta * neg
    num_pos = pos.sum().clamp(min=1.0)
    return -(pos_loss.sum() + neg_loss.sum()) / num_pos


def masked_l1_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L1 between ``pred`` and ``target`` at the cells where ``mask`` is 1, per object."""
    weight = mask.expand_as(pred)
    return (torch.abs(pred - target) * weight).sum() / mask.sum().clamp(min=1.0)
