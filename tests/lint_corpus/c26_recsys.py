"""Recommender model with embedding bags."""
import torch
import torch.nn as nn


class TwoTower(nn.Module):
    def __init__(self, n_users, n_items, dim=64):
        super().__init__()
        self.user = nn.EmbeddingBag(n_users, dim, mode="max")  # expect: RPT012
        self.item = nn.EmbeddingBag(n_items, dim, mode="mean")
        self.history = nn.EmbeddingBag(n_items, dim)

    def forward(self, users, offsets, items, item_offsets):
        u = self.user(users, offsets)
        v = self.item(items, item_offsets)
        return (u * v).sum(-1)


def build_item_index(interactions):
    item_ids = set()
    for user, item in interactions:
        item_ids.add(item)
    return {item: idx for idx, item in enumerate(sorted(item_ids))}


def negative_pool(interactions, all_items):
    seen = {item for _, item in interactions}
    pool = [i for i in all_items if i not in seen]
    return pool
