"""DCGAN-style training loop; the noise generator is created per run."""
import numpy as np
import torch
import torch.nn as nn


class Generator(nn.Module):
    def __init__(self, nz=100):
        super().__init__()
        self.net = nn.Sequential(nn.ConvTranspose2d(nz, 64, 4), nn.ReLU(), nn.ConvTranspose2d(64, 3, 4))

    def forward(self, z):
        return self.net(z)


def train(dataloader, epochs=5, nz=100):
    netG = Generator(nz)
    noise_gen = torch.Generator()  # expect: RPT004
    fixed_noise = torch.randn(64, nz, 1, 1, generator=noise_gen)
    rng = np.random.default_rng()  # expect: RPT004
    opt = torch.optim.Adam(netG.parameters(), lr=2e-4)
    for epoch in range(epochs):
        for real, _ in dataloader:
            flip = rng.random() < 0.5
            if flip:
                real = real.flip(-1)
            z = torch.randn(real.size(0), nz, 1, 1)
            loss = (netG(z) - real).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return netG(fixed_noise)


def make_noise_generator(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def sample_grid(netG, seed, nz=100):
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    z = torch.randn(16, nz, 1, 1, generator=g)
    order = rng.permutation(16)
    return netG(z)[order]
