"""Multi-task model whose heads come from a set of task names."""
import torch.nn as nn


class MultiTask(nn.Module):
    def __init__(self, backbone, tasks, dim=256):
        super().__init__()
        self.backbone = backbone
        task_names = frozenset(tasks)
        self.heads = nn.ModuleDict()
        for name in task_names:  # expect: RPT001
            self.heads[name] = nn.Linear(dim, tasks[name])

    def forward(self, x):
        h = self.backbone(x)
        return {name: head(h) for name, head in self.heads.items()}


class MultiTaskSorted(nn.Module):
    def __init__(self, backbone, tasks, dim=256):
        super().__init__()
        self.backbone = backbone
        self.heads = nn.ModuleDict({name: nn.Linear(dim, tasks[name]) for name in sorted(set(tasks))})
