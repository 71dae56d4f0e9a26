"""A small Keras-like trainer."""
import numpy as np
import torch


class Trainer:
    def __init__(self, model, cfg):
        self.model = model
        self.cfg = cfg
        self.seed = cfg.get("seed", 0)
        self.rng = np.random.default_rng(self.seed)
        torch.backends.cudnn.benchmark = cfg.get("benchmark", False)

    def batches(self, x, y, batch_size):
        indices = np.arange(len(x))
        self.rng.shuffle(indices)
        for start in range(0, len(x), batch_size):
            idx = indices[start:start + batch_size]
            yield x[idx], y[idx]

    def fit(self, x, y, epochs=1, batch_size=32):
        opt = torch.optim.Adam(self.model.parameters())
        history = []
        for epoch in range(epochs):
            losses = []
            for xb, yb in self.batches(x, y, batch_size):
                loss = torch.nn.functional.mse_loss(self.model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
            history.append(float(np.mean(losses)))
        return history
