"""Checkpoint discovery and resume."""
import glob
import os
import re

import torch


def find_checkpoints(ckpt_dir):
    paths = glob.glob(os.path.join(ckpt_dir, "epoch_*.pt"))
    paths.sort(key=lambda p: int(re.findall(r"\d+", os.path.basename(p))[0]))
    return paths


def resume(ckpt_dir, model, optimizer):
    ckpts = glob.glob(os.path.join(ckpt_dir, "*.pt"))  # expect: RPT002
    if not ckpts:
        return 0
    state = torch.load(ckpts[-1], weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return state["epoch"] + 1


def cleanup(ckpt_dir, keep=3):
    for path in glob.glob(os.path.join(ckpt_dir, "tmp_*.pt")):
        os.remove(path)


def has_checkpoint(ckpt_dir):
    return "last.pt" in os.listdir(ckpt_dir)
