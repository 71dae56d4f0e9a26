# Reproducibility cell, then training cells.
import os

os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"

import torch
import torch.nn as nn

torch.manual_seed(0)
torch.use_deterministic_algorithms(mode=True, warn_only=True)  # expect: RPT007
device = "cuda" if torch.cuda.is_available() else "cpu"

model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)).to(device)  # expect: RPT012
opt = torch.optim.SGD(model.parameters(), lr=0.01)
for step in range(10):
    x = torch.randn(8, 3, 32, 32, device=device)
    loss = model(x).logsumexp(-1).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
torch.cuda.synchronize()
