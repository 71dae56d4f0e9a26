"""DistributedDataParallel launcher with per-rank seeding by addition."""
import os
import random

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler


def setup(base_seed):
    dist.init_process_group("nccl")
    rank = dist.get_rank()
    local_rank = int(os.environ["LOCAL_RANK"])
    torch.cuda.set_device(local_rank)
    seed = base_seed + rank  # expect: RPT006
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return rank, local_rank


def train(model_fn, dataset, base_seed=42):
    rank, local_rank = setup(base_seed)
    model = DDP(model_fn().cuda(local_rank), device_ids=[local_rank])
    sampler = DistributedSampler(dataset, seed=base_seed)
    loader = DataLoader(dataset, batch_size=32, sampler=sampler, num_workers=8)  # expect: RPT010
    for epoch in range(10):
        sampler.set_epoch(epoch)
        for batch in loader:
            loss = model(batch).mean()
            loss.backward()
