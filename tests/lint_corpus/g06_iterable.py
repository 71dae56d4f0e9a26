"""Sharded IterableDataset over text files."""
import random

from torch.utils.data import IterableDataset, get_worker_info


class ShardedText(IterableDataset):
    def __init__(self, files, rank=0, world_size=1, seed=0):
        self.files = sorted(files)
        self.rank = rank
        self.world_size = world_size
        self.seed = seed
        self.epoch = 0

    def __iter__(self):
        info = get_worker_info()
        num_workers = info.num_workers if info else 1
        worker_id = info.id if info else 0
        shard = self.rank * num_workers + worker_id
        total = self.world_size * num_workers
        rng = random.Random(self.seed + worker_id)  # expect: RPT006
        files = self.files[shard::total]
        rng.shuffle(files)
        for path in files:
            with open(path) as f:
                yield from f
