"""The same ops with deterministic algorithms enabled: deterministic kernels exist."""
import os

import torch

os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
torch.use_deterministic_algorithms(True)


def aggregate(messages, index, num_nodes):
    out = torch.zeros(num_nodes, messages.size(1))
    out.index_add_(0, index, messages)
    return out


def aggregate_scatter(messages, index, num_nodes):
    out = messages.new_zeros(num_nodes, messages.size(1))
    return out.scatter_add_(0, index.unsqueeze(-1).expand_as(messages), messages)


def histogram(x):
    return torch.histc(x, bins=10)  # expect: RPT012
