"""A hand-rolled ImageFolder: class list from a set, files from os.listdir."""
import os

from PIL import Image
from torch.utils.data import Dataset


class FolderDataset(Dataset):
    def __init__(self, root, transform=None):
        self.root = root
        self.transform = transform
        self.classes = list(set(os.path.basename(d) for d in os.listdir(root)))  # expect: RPT001
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples = []
        for c in self.classes:
            folder = os.path.join(root, c)
            for name in os.listdir(folder):  # expect: RPT002
                if name.lower().endswith((".jpg", ".png")):
                    self.samples.append((os.path.join(folder, name), self.class_to_idx[c]))

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        image = Image.open(path).convert("RGB")
        if self.transform is not None:
            image = self.transform(image)
        return image, target
