"""A Lightning-style script: seeding order and loaders."""
import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset


class LitModel(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(32, 2)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


def main():
    model = LitModel()
    L.seed_everything(42, workers=True)  # expect: RPT011
    ds = TensorDataset(torch.randn(256, 32), torch.randint(0, 2, (256,)))
    loader = DataLoader(ds, batch_size=32, shuffle=True)  # expect: RPT010
    trainer = L.Trainer(max_epochs=1, deterministic=True)
    trainer.fit(model, loader)


def main_ok():
    L.seed_everything(42, workers=True)
    model = LitModel()
    ds = TensorDataset(torch.randn(256, 32), torch.randint(0, 2, (256,)))
    g = torch.Generator()
    g.manual_seed(42)
    loader = DataLoader(ds, batch_size=32, shuffle=True, generator=g)
    L.Trainer(max_epochs=1, deterministic=True).fit(model, loader)
