"""Worker init functions seen in the wild."""
import random

import numpy as np
import torch


def worker_init_fn(worker_id):
    base_seed = 1234
    np.random.seed(base_seed + worker_id)  # expect: RPT006
    random.seed(base_seed + worker_id)  # expect: RPT006


def worker_init_fn_v2(worker_id, num_workers=4, rank=0, seed=0):
    worker_seed = seed + num_workers * rank + worker_id  # expect: RPT006
    np.random.seed(worker_seed)
    torch.manual_seed(worker_seed)


def worker_init_fn_info(_):
    info = torch.utils.data.get_worker_info()
    np.random.seed(info.seed % 2**32)


def worker_init_fn_good(worker_id):
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def shard_offset(rank, shard_size):
    # plain index arithmetic, not a seed
    return rank * shard_size + 1
