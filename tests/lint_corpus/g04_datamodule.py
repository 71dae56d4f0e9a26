"""A LightningDataModule-like class."""
import os

from torch.utils.data import DataLoader, Dataset


class NpyDataset(Dataset):
    def __init__(self, files):
        self.files = files

    def __len__(self):
        return len(self.files)


class DataModule:
    def __init__(self, root, batch_size=32, generator=None):
        self.root = root
        self.batch_size = batch_size
        self.generator = generator

    def count_files(self):
        count = 0
        for fname in os.listdir(self.root):
            if fname.endswith(".npy"):
                count += 1
        return count

    def setup(self):
        self.files = [os.path.join(self.root, f) for f in os.listdir(self.root)]
        self.files = sorted(self.files)
        n_val = len(self.files) // 10
        self.train_files, self.val_files = self.files[n_val:], self.files[:n_val]

    def train_dataloader(self):
        return DataLoader(NpyDataset(self.train_files), batch_size=self.batch_size, shuffle=True,
                          num_workers=4, generator=self.generator)

    def val_dataloader(self):
        return DataLoader(NpyDataset(self.val_files), batch_size=self.batch_size, num_workers=4)  # expect: RPT010
