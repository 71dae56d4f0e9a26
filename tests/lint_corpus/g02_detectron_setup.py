"""Detectron2-like environment setup."""
import logging
import os
import random
from datetime import datetime

import numpy as np
import torch

logger = logging.getLogger(__name__)


def seed_all_rng(seed=None):
    if seed is None:
        seed = os.getpid() + int(datetime.now().strftime("%S%f")) + int.from_bytes(os.urandom(2), "big")  # expect: RPT005
        logger.info("Using a generated random seed {}".format(seed))
    np.random.seed(seed)
    torch.manual_seed(seed)
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)  # expect: RPT008


def setup_environment(cfg):
    seed_all_rng(None if cfg.SEED < 0 else cfg.SEED)
    torch.backends.cudnn.benchmark = cfg.CUDNN_BENCHMARK
    logger.info("Environment set up for %s", sorted(cfg.keys()))
