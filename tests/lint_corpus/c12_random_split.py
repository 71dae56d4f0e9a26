"""Train/val split helpers."""
import os
import random

import numpy as np
import torch
from torch.utils.data import random_split


def split_files(data_dir, val_fraction=0.1, seed=0):
    files = os.listdir(data_dir)  # expect: RPT002
    random.Random(seed).shuffle(files)
    n_val = int(len(files) * val_fraction)
    return files[n_val:], files[:n_val]


def split_files_sorted(data_dir, val_fraction=0.1, seed=0):
    files = sorted(os.listdir(data_dir))
    rng = random.Random(seed)
    rng.shuffle(files)
    n_val = int(len(files) * val_fraction)
    return files[n_val:], files[:n_val]


def split_dataset(dataset, seed):
    n_val = len(dataset) // 10
    return random_split(dataset, [len(dataset) - n_val, n_val],
                        generator=torch.Generator().manual_seed(seed))


def split_dataset_unseeded(dataset):
    n_val = len(dataset) // 10
    perm = np.random.RandomState().permutation(len(dataset))  # expect: RPT004
    return perm[n_val:], perm[:n_val]


def pick_augment(seed):
    rng = random.Random()  # expect: RPT004
    return rng.choice(["flip", "crop", "none"])
