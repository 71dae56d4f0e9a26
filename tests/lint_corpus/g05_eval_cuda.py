"""Evaluation with CUDA-side generators."""
import torch


def evaluate(model, data, seed):
    torch.cuda.manual_seed(seed)
    torch.set_deterministic_debug_mode(1)  # expect: RPT007
    g = torch.Generator(device="cuda")
    g.manual_seed(seed)
    correct = 0
    for x, y in data:
        noise = torch.randn(x.shape, generator=g, device="cuda")
        pred = model(x.cuda() + 0.01 * noise).argmax(-1)
        correct += (pred == y.cuda()).sum().item()
    return correct


def tta(model, x, n=4):
    g = torch.Generator(device=x.device)  # expect: RPT004
    outs = [model(x.flip(-1) if torch.rand(1, generator=g) < 0.5 else x) for _ in range(n)]
    return torch.stack(outs).mean(0)
