"""Graph message passing with scatter/index_add (no deterministic mode in this module)."""
import torch


def aggregate(messages, index, num_nodes):
    out = torch.zeros(num_nodes, messages.size(1), device=messages.device)
    out.index_add_(0, index, messages)  # expect: RPT012
    return out


def aggregate_scatter(messages, index, num_nodes):
    out = messages.new_zeros(num_nodes, messages.size(1))
    return out.scatter_add_(0, index.unsqueeze(-1).expand_as(messages), messages)  # expect: RPT012


def segment_max(src, index, num_nodes):
    out = src.new_full((num_nodes,), float("-inf"))
    return out.scatter_reduce(0, index, src, reduce="amax")  # expect: RPT012


def accumulate(buffer, idx, values):
    buffer.index_put_((idx,), values, accumulate=True)  # expect: RPT012
    return buffer


def overwrite(buffer, idx, values):
    buffer.index_put_((idx,), values)
    return buffer


def positions(mask):
    return mask.long().cumsum(dim=1) - 1


def running_mean(x):
    return x.cumsum(dim=0) / torch.arange(1, x.size(0) + 1)  # expect: RPT012
