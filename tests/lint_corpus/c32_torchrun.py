"""torchrun entry point."""
import argparse
import os

import numpy as np
import torch
import torch.distributed as dist


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    dist.init_process_group(backend="nccl")
    local_rank = int(os.environ["LOCAL_RANK"])
    torch.cuda.set_device(local_rank)
    seed = args.seed + int(os.environ["RANK"])  # expect: RPT006
    torch.manual_seed(seed)
    torch.cuda.manual_seed(seed)
    np.random.seed(args.seed + local_rank)  # expect: RPT006
    x = torch.randn(8, 8, device="cuda")
    dist.all_reduce(x)
    if dist.get_rank() == 0:
        print(x.sum().item())
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
