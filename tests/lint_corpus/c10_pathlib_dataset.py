"""pathlib-based audio dataset."""
from pathlib import Path

import torchaudio
from torch.utils.data import Dataset


class SpeechCommands(Dataset):
    def __init__(self, root):
        root = Path(root)
        self.files = list(root.rglob("*.wav"))  # expect: RPT002
        self.labels = sorted({f.parent.name for f in self.files})

    def __getitem__(self, i):
        wav, sr = torchaudio.load(self.files[i])
        return wav, self.labels.index(self.files[i].parent.name)

    def __len__(self):
        return len(self.files)


def speakers(root):
    spk = []
    for d in Path(root).iterdir():  # expect: RPT002
        if d.is_dir():
            spk.append(d.name)
    return spk


def speakers_sorted(root):
    return sorted(d.name for d in Path(root).iterdir() if d.is_dir())


def has_wavs(root):
    return any(Path(root).glob("*.wav"))
