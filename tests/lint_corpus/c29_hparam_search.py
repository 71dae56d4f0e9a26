"""Random hyper-parameter search."""
import random
import time

import numpy as np


def sample_config(rng):
    return {"lr": 10 ** rng.uniform(-5, -2), "wd": rng.choice([0.0, 1e-4, 1e-2])}


def search(n_trials, train_fn, seed=None):
    if seed is None:
        seed = time.time_ns() % (2**32)  # expect: RPT005
    rng = random.Random(seed)
    results = []
    for trial in range(n_trials):
        cfg = sample_config(rng)
        cfg["seed"] = seed + trial
        t0 = time.perf_counter()
        score = train_fn(cfg)
        results.append((score, cfg, time.perf_counter() - t0))
    return max(results, key=lambda r: r[0])


def grid(space):
    keys = list(space)
    combos = np.array(np.meshgrid(*[space[k] for k in keys])).T.reshape(-1, len(keys))
    return [dict(zip(keys, c)) for c in combos]


def search_params():
    params = {"lr", "wd", "dropout"}
    return {p: None for p in params}
