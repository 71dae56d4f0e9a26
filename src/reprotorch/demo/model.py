"""A tiny anchor-free detector: a small CNN with CenterNet heads, MMDetection-style.

``model(img, targets)`` returns a dict of losses in training (as MMDetection's
``forward_train`` does) so that the traced forward inputs of the top-level
module are the whole batch, labels included; ``model(img)`` returns the raw
head outputs, and :meth:`TinyCenterNet.detect` decodes them into boxes.

It has every kind of randomness a real detector consumes on the model side:
random initialisation (torch's generator) and dropout (the generator of the
device it runs on).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .losses import focal_loss, masked_l1_loss
from .targets import decode_detections

__all__ = ["TinyCenterNet", "STRIDE"]

STRIDE = 4


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class TinyCenterNet(nn.Module):
    """Backbone (stride 4) -> dropout -> shared head conv -> heatmap / size / offset heads."""

    def __init__(self, num_classes: int, width: int = 32, dropout: float = 0.1) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.backbone = nn.Sequential(
            _conv(3, width // 2, stride=2),
            _conv(width // 2, width, stride=2),
            _conv(width, width),
            _conv(width, width),
        )
        self.dropout = nn.Dropout2d(dropout)
        self.head = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True))
        self.cls = nn.Conv2d(width, num_classes, 1)
        self.wh = nn.Conv2d(width, 2, 1)
        self.offset = nn.Conv2d(width, 2, 1)
        # focal-loss prior: start every cell at p = 0.1 so early training is not swamped by negatives
        assert self.cls.bias is not None
        nn.init.constant_(self.cls.bias, -math.log((1 - 0.1) / 0.1))

    def forward(
        self, img: torch.Tensor, targets: dict[str, torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        """Losses (``loss_heatmap``, ``loss_wh``, ``loss_offset``) with ``targets``, else head outputs."""
        feat = self.head(self.dropout(self.backbone(img)))
        out = {"heatmap": self.cls(feat), "wh": self.wh(feat), "offset": self.offset(feat)}
        if targets is None:
            return out
        return {
            "loss_heatmap": focal_loss(out["heatmap"], targets["heatmap"]),
            "loss_wh": 0.1 * masked_l1_loss(out["wh"], targets["wh"], targets["mask"]),
            "loss_offset": masked_l1_loss(out["offset"], targets["offset"], targets["mask"]),
        }

    @torch.no_grad()
    def detect(self, img: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Per image ``(boxes, scores, labels)`` in pixels (call in ``eval()`` mode)."""
        out = self.forward(img)
        return decode_detections(out["heatmap"], out["wh"], out["offset"], STRIDE)
