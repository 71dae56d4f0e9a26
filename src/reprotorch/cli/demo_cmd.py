"""``reprotorch demo``: train a small seeded model in two separate processes and compare bit for bit.

A stand-in for the detection demo: it proves the basic promise -- one
``seed_everything`` call, two processes, bitwise-identical parameters.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

_TRAIN = r"""
import hashlib, json, sys
import torch
import reprotorch

reprotorch.seed_everything(int(sys.argv[1]), deterministic=True)
model = torch.nn.Sequential(
    torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Dropout(0.2), torch.nn.Linear(32, 4)
)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for step in range(int(sys.argv[2])):
    x = torch.randn(8, 16)
    y = torch.randint(0, 4, (8,))
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
h = hashlib.sha256()
for name, p in sorted(model.state_dict().items()):
    h.update(name.encode()); h.update(p.detach().contiguous().numpy().tobytes())
print(json.dumps({"fingerprint": "sha256:" + h.hexdigest(), "loss": loss.item()}))
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``reprotorch demo``."""
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--steps", type=int, default=50, help="training steps per run (default 50)")


def run(args: argparse.Namespace) -> int:
    """Run the training twice in fresh interpreters and print the verdict."""
    results = []
    for i in range(2):
        proc = subprocess.run(
            [sys.executable, "-c", _TRAIN, str(args.seed), str(args.steps)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
            print(f"reprotorch demo: run {i + 1} failed: {tail[0]}", file=sys.stderr)
            return 2
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    a, b = results
    if a["fingerprint"] == b["fingerprint"]:
        print(
            f"bitwise identical: 2 processes, {args.steps} steps, seed {args.seed}, "
            f"final loss {a['loss']:.6f}, parameters {a['fingerprint']}"
        )
        return 0
    print(f"DIVERGED: {a['fingerprint']} != {b['fingerprint']}")
    return 1
