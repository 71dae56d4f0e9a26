"""A typical classification training script with a few classic mistakes."""
import argparse
import time

import torch
import torch.nn as nn
from torch.utils.data import DataLoader
from torchvision import datasets, models, transforms


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--workers", type=int, default=4)
    return p.parse_args()


def main():
    args = parse_args()
    if args.seed is None:
        args.seed = int(time.time())  # expect: RPT005
    torch.backends.cudnn.benchmark = True  # expect: RPT003
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    tfm = transforms.Compose([transforms.RandomResizedCrop(224), transforms.ToTensor()])
    train_set = datasets.ImageFolder(args.data + "/train", transform=tfm)
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True,  # expect: RPT010
                              num_workers=args.workers, pin_memory=True)
    model = models.resnet18(num_classes=len(train_set.classes)).to(device)
    torch.manual_seed(args.seed)  # expect: RPT011
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    start = time.time()
    for epoch in range(args.epochs):
        for images, targets in train_loader:
            images, targets = images.to(device), targets.to(device)
            loss = criterion(model(images), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch} loss {loss.item():.4f} elapsed {time.time() - start:.1f}s")


if __name__ == "__main__":
    main()
