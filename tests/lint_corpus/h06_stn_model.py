"""Spatial transformer classifier."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class STN(nn.Module):
    def __init__(self):
        super().__init__()
        self.loc = nn.Sequential(nn.Conv2d(1, 8, 7), nn.MaxPool2d(2), nn.ReLU())
        self.fc_loc = nn.Linear(8 * 11 * 11, 6)
        self.conv = nn.Conv2d(1, 16, 5)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        xs = self.loc(x).flatten(1)
        theta = self.fc_loc(xs).view(-1, 2, 3)
        grid = F.affine_grid(theta, x.size(), align_corners=False)
        x = F.grid_sample(x, grid, align_corners=False)  # expect: RPT012
        x = F.relu(self.conv(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)  # expect: RPT012
        return F.log_softmax(self.fc(x), dim=1)


def loss_fn(log_probs, target):
    return F.nll_loss(log_probs, target)  # expect: RPT012


def activation_stats(acts):
    return torch.histc(acts.detach().cpu(), bins=50)  # expect: RPT012
