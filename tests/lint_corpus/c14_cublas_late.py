"""Setting the cuBLAS workspace after the model is already on the GPU."""
import os

import torch
import torch.nn as nn


def main(seed=0):
    torch.manual_seed(seed)
    device = torch.device("cuda:0")
    model = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)).to(device)
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":16:8"  # expect: RPT009
    torch.use_deterministic_algorithms(True)
    x = torch.randn(32, 512, device=device)
    return model(x)


def main_ok(seed=0):
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    model = nn.Linear(512, 10).cuda()
    return model(torch.randn(4, 512).cuda())


if __name__ == "__main__":
    main()
