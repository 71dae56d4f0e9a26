"""Building a vocabulary for a text model."""
from collections import Counter

import torch


def build_vocab(sentences, min_freq=2):
    words = set()
    for s in sentences:
        words.update(s.split())
    itos = ["<pad>", "<unk>"] + list(words)  # expect: RPT001
    stoi = {w: i for i, w in enumerate(itos)}
    return itos, stoi


def build_vocab_counts(sentences, min_freq=2):
    counts = Counter(w for s in sentences for w in s.split())
    kept = {w for w, c in counts.items() if c >= min_freq}
    itos = ["<pad>", "<unk>"] + sorted(kept)
    return {w: i for i, w in enumerate(itos)}


def label_ids(labels):
    uniq = set(labels)
    mapping = {lab: idx for idx, lab in enumerate(uniq)}  # expect: RPT001
    return torch.tensor([mapping[lab] for lab in labels])


def has_unknown(tokens, vocab):
    vocab_set = set(vocab)
    return any(t not in vocab_set for t in tokens)


def num_labels(labels):
    return len(set(labels))
