"""Video clip dataset built by walking a directory tree."""
import os

import torch
from torch.utils.data import Dataset


class ClipDataset(Dataset):
    def __init__(self, root, frames=16):
        self.frames = frames
        self.videos = []
        for dirpath, _, filenames in os.walk(root):  # expect: RPT002
            for name in filenames:
                if name.endswith(".mp4"):
                    self.videos.append(os.path.join(dirpath, name))
        self.labels = sorted({os.path.basename(os.path.dirname(v)) for v in self.videos})

    def __len__(self):
        return len(self.videos)

    def __getitem__(self, i):
        start = torch.randint(0, 100, (1,)).item()
        return self.videos[i], start


def list_videos_sorted(root):
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".mp4"):
                out.append(os.path.join(dirpath, name))
    return out
