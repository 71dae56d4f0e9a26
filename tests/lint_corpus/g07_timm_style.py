"""timm-style training entry point."""
import os

import timm
import torch

from utils import create_loader, random_seed


def main(args):
    random_seed(args.seed, args.rank)
    model = timm.create_model(args.model, pretrained=False, num_classes=args.num_classes)
    model.cuda()
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"  # expect: RPT009
    loader = create_loader(args.data, batch_size=args.batch_size, is_training=True,
                           num_workers=args.workers, seed=args.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(model(x.cuda()), y.cuda())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
