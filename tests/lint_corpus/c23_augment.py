"""Augmentation pipeline with its own randomness."""
import random

import numpy as np
import torch


class RandomAugment:
    def __init__(self, ops, n=2, seed=None):
        self.ops = ops
        self.n = n
        self.rng = np.random.default_rng(seed)

    def __call__(self, img):
        for idx in self.rng.choice(len(self.ops), self.n, replace=False):
            img = self.ops[idx](img)
        return img


class Mixup:
    def __init__(self, alpha=0.2):
        self.alpha = alpha
        self.rng = np.random.RandomState()  # expect: RPT004

    def __call__(self, x, y):
        lam = self.rng.beta(self.alpha, self.alpha)
        perm = torch.randperm(x.size(0))
        return lam * x + (1 - lam) * x[perm], y, y[perm], lam


class CutoutGen:
    def __init__(self, size=16):
        self.size = size
        self.gen = torch.Generator()
        self.epoch = 0
        self.seed = 0

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.gen.manual_seed(self.seed + epoch)

    def __call__(self, img):
        h, w = img.shape[-2:]
        cy = torch.randint(h, (1,), generator=self.gen).item()
        cx = torch.randint(w, (1,), generator=self.gen).item()
        img[..., max(cy - self.size, 0):cy + self.size, max(cx - self.size, 0):cx + self.size] = 0
        return img


def jitter(img, seed):
    rnd = random.Random(seed)
    return img * rnd.uniform(0.9, 1.1)
