"""Text classification data prep from a folder of label directories."""
import os
import random

import torch
from torch.utils.data import DataLoader, Dataset


def read_corpus(root):
    texts, labels = [], []
    label_dirs = os.listdir(root)  # expect: RPT002
    label_to_id = {name: i for i, name in enumerate(label_dirs)}
    for name in sorted(label_dirs):
        for fname in sorted(os.listdir(os.path.join(root, name))):
            with open(os.path.join(root, name, fname)) as f:
                texts.append(f.read())
            labels.append(label_to_id[name])
    return texts, labels


class TextDataset(Dataset):
    def __init__(self, texts, labels, tokenizer):
        self.items = list(zip(texts, labels))
        self.tokenizer = tokenizer

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        text, label = self.items[i]
        return self.tokenizer(text), label


def make_loader(ds, seed):
    random.seed(seed)
    torch.manual_seed(seed)
    return DataLoader(ds, batch_size=32, shuffle=True, num_workers=2)  # expect: RPT010
