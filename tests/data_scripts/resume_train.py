"""Train with a SeededDataLoader in a process of its own, for the exact-resume test.

  full   --steps N                  train N steps uninterrupted, write the parameters to --out
  first  --steps k --ckpt PATH      train k steps, save a checkpoint, exit
  second --steps N --ckpt PATH      fresh process: restore the checkpoint, train to step N, write --out

The checkpoint holds {model, optimizer, capture_rng_state(), loader.state_dict()}
and is read back with torch.load(weights_only=True). Output files hold the
final parameters and the fingerprint of every batch this process trained on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from data_common import AugDataset, Trainer, make_model, make_optimizer  # noqa: E402

import reprotorch  # noqa: E402
from reprotorch.data import SeededDataLoader  # noqa: E402

SEED = 2024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("full", "first", "second"))
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--persistent", action="store_true")
    parser.add_argument("--ckpt")
    parser.add_argument("--out")
    args = parser.parse_args()

    reprotorch.seed_everything(SEED)
    model = make_model()  # initialisation draws from the global torch generator
    optimizer = make_optimizer(model)
    extra = {"persistent_workers": True} if args.persistent else {}
    if args.workers:
        extra["prefetch_factor"] = 3
    loader = SeededDataLoader(AugDataset(), batch_size=4, num_workers=args.workers, **extra)
    trainer = Trainer(model, optimizer, loader)

    start = 0
    if args.mode == "second":
        ckpt = torch.load(args.ckpt, weights_only=True)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        loader.load_state_dict(ckpt["loader"])
        reprotorch.restore_rng_state(reprotorch.RNGState.from_dict(ckpt["rng"]))
        start = ckpt["step"]

    for _ in range(start, args.steps):
        trainer.step()

    if args.mode == "first":
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "rng": reprotorch.capture_rng_state().to_dict(),
                "loader": loader.state_dict(),
                "step": args.steps,
            },
            args.ckpt,
        )
    if args.out:
        torch.save({"params": [p.detach().clone() for p in model.parameters()], "seen": trainer.seen}, args.out)


if __name__ == "__main__":
    main()
