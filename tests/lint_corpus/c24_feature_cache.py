"""Precomputing features for a frozen backbone."""
import os
from pathlib import Path

import numpy as np
import torch


@torch.no_grad()
def cache_features(backbone, image_dir, out_dir):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(image_dir):
        if entry.name.endswith(".npy"):
            x = torch.from_numpy(np.load(entry.path))
            feat = backbone(x[None])
            np.save(out_dir / entry.name, feat.numpy())


def load_features(cache_dir):
    files = [f for f in os.listdir(cache_dir) if f.endswith(".npy")]  # expect: RPT002
    feats = [np.load(os.path.join(cache_dir, f)) for f in files]
    return np.stack(feats)


def load_features_sorted(cache_dir):
    files = [f for f in os.listdir(cache_dir) if f.endswith(".npy")]
    files.sort()
    return np.stack([np.load(os.path.join(cache_dir, f)) for f in files])


def index_features(cache_dir):
    index = {}
    for f in os.listdir(cache_dir):
        index[Path(f).stem] = os.path.join(cache_dir, f)
    return index
