"""MMDetection-style seeding and dataloader building."""
import random
from functools import partial

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader


def init_random_seed(seed=None, device="cuda"):
    if seed is not None:
        return seed
    seed = np.random.randint(2**31)
    rank, world_size = dist.get_rank(), dist.get_world_size()
    if world_size == 1:
        return seed
    random_num = torch.tensor(seed if rank == 0 else 0, dtype=torch.int32, device=device)
    dist.broadcast(random_num, src=0)
    return random_num.item()


def set_random_seed(seed, deterministic=False):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def worker_init_fn(worker_id, num_workers, rank, seed):
    worker_seed = num_workers * rank + worker_id + seed  # expect: RPT006
    np.random.seed(worker_seed)
    random.seed(worker_seed)
    torch.manual_seed(worker_seed)


def build_dataloader(dataset, samples_per_gpu, workers_per_gpu, rank, seed=None, shuffle=True):
    init_fn = partial(worker_init_fn, num_workers=workers_per_gpu, rank=rank,
                      seed=seed) if seed is not None else None
    return DataLoader(dataset, batch_size=samples_per_gpu, num_workers=workers_per_gpu,
                      shuffle=shuffle, worker_init_fn=init_fn, pin_memory=False)
