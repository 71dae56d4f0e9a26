"""A distributed sampler written by hand (the PyTorch pattern: generator seeded per epoch)."""
import math

import torch
from torch.utils.data import Sampler


class ShardedSampler(Sampler):
    def __init__(self, dataset, num_replicas, rank, seed=0, shuffle=True):
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.num_samples = math.ceil(len(dataset) / num_replicas)

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = torch.randperm(len(self.dataset), generator=g).tolist()
        else:
            indices = list(range(len(self.dataset)))
        indices += indices[: self.num_samples * self.num_replicas - len(indices)]
        return iter(indices[self.rank : self.num_samples * self.num_replicas : self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        self.epoch = epoch


class BadShardedSampler(ShardedSampler):
    def __iter__(self):
        g = torch.Generator()
        g.manual_seed(self.seed + self.rank)  # expect: RPT006
        return iter(torch.randperm(len(self.dataset), generator=g).tolist())


class UnseededSampler(ShardedSampler):
    def __iter__(self):
        perm = torch.randperm(len(self.dataset), generator=torch.Generator())  # expect: RPT004
        return iter(perm.tolist())
