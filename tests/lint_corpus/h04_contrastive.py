"""SimCLR-style two-view dataset."""
import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


class TwoViews(Dataset):
    def __init__(self, base, transform):
        self.base = base
        self.transform = transform

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        img, _ = self.base[i]
        if np.random.rand() < 0.5:
            img = img[:, ::-1]
        return self.transform(img), self.transform(img)


def loaders(base, transform, batch_size=256, workers=8):
    ds = TwoViews(base, transform)
    train = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers,  # expect: RPT010
                       drop_last=True, persistent_workers=True)
    probe = DataLoader(ds, batch_size=batch_size, num_workers=0)
    return train, probe


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
