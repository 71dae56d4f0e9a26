"""Synthetic data generation in a process pool."""
import multiprocessing as mp
import os

import numpy as np


def _make_shard(args):
    shard_id, n, seed = args
    rng = np.random.default_rng([seed, shard_id])
    return rng.normal(size=(n, 16))


def _make_shard_bad(args):
    shard_id, n = args
    rng = np.random.default_rng(os.getpid())  # expect: RPT005
    return rng.normal(size=(n, 16))


def generate(num_shards, n, seed):
    with mp.Pool(4) as pool:
        shards = pool.map(_make_shard, [(i, n, seed) for i in range(num_shards)])
    return np.concatenate(shards)


def generate_bad(num_shards, n):
    with mp.Pool(4) as pool:
        shards = pool.map(_make_shard_bad, [(i, n) for i in range(num_shards)])
    return np.concatenate(shards)
