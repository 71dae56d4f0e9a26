"""Seed utilities from a research codebase."""
import os
import random
import time

import numpy as np
import torch


def get_seed(seed=None):
    if seed is None or seed < 0:
        seed = (os.getpid() * int(time.time())) % 123456789  # expect: RPT005
    return seed


def fix_seeds(seed, deterministic):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    if deterministic:
        torch.use_deterministic_algorithms(True)


def proc_seed(base):
    np.random.seed(os.getpid())  # expect: RPT005
    return base


def timed(fn):
    def wrapper(*a, **k):
        t = time.time()
        out = fn(*a, **k)
        print(f"{fn.__name__}: {time.time() - t:.3f}s")
        return out
    return wrapper
