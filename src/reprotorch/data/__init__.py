"""Data randomness that survives workers, ranks and resumes.

Every sample's randomness is a function of (seed, epoch, index) alone, never of
the process or worker that loads it:

* :class:`SeededSampler` yields :class:`SampleKey` s (indices carrying a 64-bit
  per-sample seed) in an order drawn from (seed, epoch), sharded per rank;
* :class:`SeededDataset` seeds the global generators from the key before each
  sample, and :func:`sample_rng` hands out explicit per-sample generators;
* :class:`SeededDataLoader` wires both and resumes mid-epoch exactly
  (``state_dict`` / ``load_state_dict``);
* :func:`worker_init_fn` and :func:`loader_kwargs` fix worker seeding for a
  DataLoader you build yourself; :func:`build_dataloader` keeps MMDetection's names.
"""

from __future__ import annotations

from .dataset import SeededDataset
from .keys import SampleKey, sample_seed
from .loader import SeededDataLoader, build_dataloader
from .rng import SampleRNG, sample_rng
from .sampler import SeededSampler
from .workers import loader_kwargs, worker_init_fn

__all__ = [
    "SampleKey",
    "sample_seed",
    "SeededSampler",
    "SeededDataset",
    "SampleRNG",
    "sample_rng",
    "SeededDataLoader",
    "worker_init_fn",
    "loader_kwargs",
    "build_dataloader",
]
