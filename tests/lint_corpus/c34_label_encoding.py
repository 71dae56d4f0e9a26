"""Label encoding done several ways, most of them fine."""
import numpy as np
import torch
from sklearn.preprocessing import LabelEncoder


def encode_sklearn(labels):
    enc = LabelEncoder()
    return enc.fit_transform(labels), list(enc.classes_)


def encode_numpy(labels):
    classes, ids = np.unique(np.asarray(labels), return_inverse=True)
    return ids, classes.tolist()


def encode_first_seen(labels):
    mapping = {}
    for lab in labels:
        if lab not in mapping:
            mapping[lab] = len(mapping)
    return torch.tensor([mapping[lab] for lab in labels])


def encode_set_counter(labels):
    mapping = {}
    for lab in set(labels):  # expect: RPT001
        mapping[lab] = len(mapping)
    return torch.tensor([mapping[lab] for lab in labels])


def encode_dict_fromkeys(labels):
    ordered = list(dict.fromkeys(labels))
    return {lab: i for i, lab in enumerate(ordered)}


def multi_hot(tags_per_item, vocab):
    out = torch.zeros(len(tags_per_item), len(vocab))
    for row, tags in enumerate(tags_per_item):
        for t in set(tags):
            out[row, vocab[t]] = 1.0
    return out
