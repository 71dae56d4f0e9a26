"""Character-level language model data prep (two well-known styles)."""
import numpy as np
import torch


def load_text(path):
    with open(path) as f:
        return f.read()


def vocab_karpathy(text):
    chars = list(set(text))  # expect: RPT001
    data_size, vocab_size = len(text), len(chars)
    char_to_ix = {ch: i for i, ch in enumerate(chars)}
    ix_to_char = {i: ch for i, ch in enumerate(chars)}
    return char_to_ix, ix_to_char, data_size, vocab_size


def vocab_mingpt(text):
    chars = sorted(list(set(text)))
    stoi = {ch: i for i, ch in enumerate(chars)}
    itos = {i: ch for i, ch in enumerate(chars)}
    return stoi, itos


def encode(text, stoi):
    return torch.tensor([stoi[c] for c in text], dtype=torch.long)


def get_batch(data, block_size, batch_size, generator):
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[i:i + block_size] for i in ix])
    y = torch.stack([data[i + 1:i + block_size + 1] for i in ix])
    return x, y


def sample_start(vocab_size):
    return np.random.default_rng().integers(vocab_size)  # expect: RPT004
