"""Segmentation dataset from globbed image/mask pairs."""
import glob
import os

import numpy as np
from torch.utils.data import Dataset


class SegDataset(Dataset):
    def __init__(self, root, split="train"):
        self.images = glob.glob(os.path.join(root, split, "images", "*.png"))  # expect: RPT002
        self.masks = [p.replace("images", "masks") for p in self.images]

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return np.load(self.images[i]), np.load(self.masks[i])


class SortedSegDataset(Dataset):
    def __init__(self, root, split="train"):
        self.images = sorted(glob.glob(os.path.join(root, split, "images", "*.png")))
        self.masks = [p.replace("images", "masks") for p in self.images]

    def __len__(self):
        return len(self.images)


def count_images(root):
    return len(glob.glob(os.path.join(root, "*.png")))


def latest_checkpoint(ckpt_dir):
    ckpts = glob.glob(os.path.join(ckpt_dir, "*.pt"))
    if not ckpts:
        return None
    return max(ckpts, key=os.path.getmtime)
