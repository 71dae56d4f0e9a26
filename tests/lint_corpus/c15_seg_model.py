"""A small U-Net-ish segmentation head with ops that are nondeterministic on CUDA."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Head(nn.Module):
    def __init__(self, cin, ncls):
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)  # expect: RPT012
        self.conv = nn.Conv2d(cin, 64, 3)
        self.pool = nn.AdaptiveAvgPool2d(1)  # expect: RPT012
        self.cls = nn.Conv2d(64, ncls, 1)

    def forward(self, x, size):
        y = self.conv(self.pad(x))
        ctx = self.pool(y)
        y = y + ctx
        y = self.cls(y)
        y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)  # expect: RPT012
        return y

    def forward_nearest(self, x, size):
        y = self.cls(self.conv(F.pad(x, (1, 1, 1, 1))))
        return F.interpolate(y, size=size, mode="nearest")


def seg_loss(logits, target):
    return F.nll_loss(F.log_softmax(logits, dim=1), target, ignore_index=255)  # expect: RPT012


def class_histogram(target, ncls):
    return torch.bincount(target.flatten(), minlength=ncls)


def weighted_histogram(target, weights, ncls):
    return torch.bincount(target.flatten(), weights=weights.flatten(), minlength=ncls)  # expect: RPT012
