# Exported from a notebook: module-level exploratory training.
import glob

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

frames = []
for path in glob.glob("data/*.csv"):  # expect: RPT002
    frames.append(pd.read_csv(path))
df = pd.concat(frames, ignore_index=True)

legacy = glob.glob("legacy/*.csv")  # noqa: RPT002 -- a single file, order irrelevant
legacy_df = pd.read_csv(legacy[0]) if legacy else None

features = df.drop(columns=["target"]).to_numpy(dtype=np.float32)
target = df["target"].to_numpy()
net = nn.Sequential(nn.Linear(features.shape[1], 64), nn.ReLU(), nn.Linear(64, 1))
np.random.seed(0)  # expect: RPT011
torch.manual_seed(0)

opt = torch.optim.Adam(net.parameters(), lr=1e-3)
x = torch.from_numpy(features)
y = torch.from_numpy(target).float()
for step in range(100):
    idx = np.random.choice(len(x), 64)
    loss = ((net(x[idx]).squeeze(-1) - y[idx]) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
