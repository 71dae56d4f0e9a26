"""The classification script done right; the timing code must not look like a seed."""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader
from torchvision import datasets, models, transforms

import reprotorch


def seed_worker(worker_id):
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    reprotorch.seed_everything(args.seed, deterministic=True)
    torch.backends.cudnn.benchmark = False
    g = torch.Generator()
    g.manual_seed(args.seed)
    tfm = transforms.Compose([transforms.RandomResizedCrop(224), transforms.ToTensor()])
    train_set = datasets.ImageFolder("data/train", transform=tfm)
    loader = DataLoader(train_set, batch_size=64, shuffle=True, num_workers=4,
                        worker_init_fn=seed_worker, generator=g)
    model = models.resnet18(num_classes=len(train_set.classes))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    t0 = time.time()
    for images, targets in loader:
        loss = nn.functional.cross_entropy(model(images), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"took {time.time() - t0:.1f}s")
    val_loader = DataLoader(train_set, batch_size=256, shuffle=False, num_workers=0)
    print(len(val_loader))


if __name__ == "__main__":
    main()
