"""The same dataset written reproducibly: nothing here should be flagged."""
import os

from PIL import Image
from torch.utils.data import Dataset


class FolderDataset(Dataset):
    def __init__(self, root, transform=None):
        self.root = root
        self.transform = transform
        self.classes = sorted(set(os.listdir(root)))
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples = []
        for c in self.classes:
            folder = os.path.join(root, c)
            for name in sorted(os.listdir(folder)):
                if name.lower().endswith((".jpg", ".png")):
                    self.samples.append((os.path.join(folder, name), self.class_to_idx[c]))
        if not self.samples:
            raise FileNotFoundError(f"no images under {root}")

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        image = Image.open(path).convert("RGB")
        return (self.transform(image) if self.transform else image), target
