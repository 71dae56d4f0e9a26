"""The launcher with derived seeds and seeded loaders."""
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from reprotorch import derive_seed, seed_everything


def setup(base_seed):
    dist.init_process_group("nccl")
    rank = dist.get_rank()
    local_rank = int(os.environ["LOCAL_RANK"])
    torch.cuda.set_device(local_rank)
    seed_everything(derive_seed(base_seed, rank))
    return rank, local_rank


def loader_for(dataset, base_seed, rank):
    sampler = DistributedSampler(dataset, seed=base_seed)
    g = torch.Generator()
    g.manual_seed(derive_seed(base_seed, "loader", rank))
    return sampler, DataLoader(dataset, batch_size=32, sampler=sampler, num_workers=8,
                               generator=g)


def train(model_fn, dataset, base_seed=42):
    rank, local_rank = setup(base_seed)
    model = DDP(model_fn().cuda(local_rank), device_ids=[local_rank])
    sampler, loader = loader_for(dataset, base_seed, rank)
    for epoch in range(10):
        sampler.set_epoch(epoch)
        for batch in loader:
            model(batch).mean().backward()
