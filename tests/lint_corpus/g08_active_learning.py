"""Active learning query selection."""
import random

import numpy as np
import torch


def random_query(n_total, labeled, k, seed):
    unlabeled = set(range(n_total)) - set(labeled)
    rng = random.Random(seed)
    return rng.sample(sorted(unlabeled), k)


def uncertainty_query(model, pool, labeled_names, k):
    names = [n for n in pool if n not in labeled_names]
    with torch.no_grad():
        scores = torch.stack([model(pool[n]).softmax(-1).max() for n in names])
    top = scores.argsort()[:k]
    return [names[i] for i in top.tolist()]


def class_balanced_query(pool_labels, per_class, seed):
    classes = set(pool_labels.values())
    rng = np.random.default_rng(seed)
    picked = []
    for c in classes:  # expect: RPT001
        members = sorted(n for n, lab in pool_labels.items() if lab == c)
        picked.extend(rng.choice(members, size=min(per_class, len(members)), replace=False))
    return picked
