"""Tracing overhead on a small CNN training step, against the same step untraced.

Target (issue 4): at most 1.3x. The traced step records forward outputs of every
module (leaves and containers), every gradient and every parameter after the
optimizer step, the loss and the RNG states -- every step. Both variants run
interleaved in the same process, round after round, so machine noise hits both;
the figures are medians over rounds.

    python benchmarks/bench_tracing.py [--rounds 15] [--steps 10] [--threads 1] [--batch 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn

import reprotorch


class CNN(nn.Module):
    """A CIFAR-sized CNN: 4 conv blocks (conv, BN, ReLU), pooling and a linear head."""

    def __init__(self) -> None:
        super().__init__()

        def block(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
            )

        self.features = nn.Sequential(block(3, 16, 1), block(16, 32, 2), block(32, 64, 2), block(64, 64, 1))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1))


def run_steps(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
              steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps", type=int, default=10, help="training steps per timed block")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: leave as is)")
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    reprotorch.seed_everything(0)
    model = CNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    run_steps(model, opt, x, y, 3)  # warm-up

    times: dict[str, list[float]] = {"untraced": [], "traced (model=...)": [], "traced (global hooks)": []}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            times["untraced"].append(run_steps(model, opt, x, y, args.steps))
            for label, target in (("traced (model=...)", model), ("traced (global hooks)", None)):
                path = os.path.join(tmp, f"{r}-{target is None}.jsonl")
                with reprotorch.trace(target, path):
                    times[label].append(run_steps(model, opt, x, y, args.steps))
                sizes[label] = os.path.getsize(path)

    base = statistics.median(times["untraced"])
    print(f"tracing overhead, CNN ({sum(p.numel() for p in model.parameters())} parameters), "
          f"batch {args.batch}x3x32x32, torch threads {torch.get_num_threads()}, "
          f"{args.rounds} rounds x {args.steps} steps")
    print(f"{'variant':<24}{'median ms/step':>16}{'ratio':>9}{'trace bytes/step':>18}")
    for label, values in times.items():
        med = statistics.median(values)
        per_step = f"{sizes[label] / args.steps:,.0f}" if label in sizes else "-"
        print(f"{label:<24}{med * 1e3:>16.2f}{med / base:>8.2f}x{per_step:>18}")
    worst = max(statistics.median(v) for v in times.values()) / base
    print(f"target: <= 1.30x -> {'met' if worst <= 1.3 else 'NOT met'} (worst {worst:.2f}x)")


if __name__ == "__main__":
    main()
