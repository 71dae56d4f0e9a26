"""Resolve the names a module binds by import to fully qualified dotted names.

The rules match on what a call *is* (``numpy.random.default_rng``), not on how
the module spells it (``np.random.default_rng``, ``default_rng``, ``rnd.default_rng``).
Resolution is static and flow-insensitive: every ``import`` anywhere in the
file counts, because training scripts often import inside ``main()``.
"""

from __future__ import annotations

import ast

__all__ = ["Aliases", "collect_aliases", "dotted"]

# Spellings so conventional that a snippet using them without an import still means them.
_CONVENTIONAL: dict[str, str] = {
    "np": "numpy",
    "nn": "torch.nn",
    "F": "torch.nn.functional",
    "dist": "torch.distributed",
}


class Aliases:
    """Local name -> qualified name, as bound by the module's imports."""

    __slots__ = ("_map",)

    def __init__(self, mapping: dict[str, str]) -> None:
        self._map = mapping

    def qualname(self, node: ast.expr) -> str | None:
        """The dotted name of ``node`` with its first part resolved, or None if not a name chain.

        ``np.random.default_rng`` -> ``numpy.random.default_rng`` when the module
        did ``import numpy as np``; ``cudnn.benchmark`` -> ``torch.backends.cudnn.benchmark``
        after ``from torch.backends import cudnn``.
        """
        spelled = dotted(node)
        if spelled is None:
            return None
        first, dot, rest = spelled.partition(".")
        head = self._map.get(first)
        if head is None:
            head = _CONVENTIONAL.get(first, first)
        return head + dot + rest

    def is_imported(self, name: str) -> bool:
        """Whether a local name is bound by an import."""
        return name in self._map


_CONTAINERS = (ast.stmt, ast.ExceptHandler, ast.match_case)


def collect_aliases(tree: ast.Module) -> Aliases:
    """Collect every import binding in ``tree`` (statements only, nested bodies included)."""
    mapping: dict[str, str] = {}
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.asname:
                        mapping[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".", 1)[0]
                        mapping[top] = top
            elif isinstance(child, ast.ImportFrom):
                if child.level or not child.module:
                    continue
                for alias in child.names:
                    if alias.name == "*":
                        continue
                    mapping[alias.asname or alias.name] = f"{child.module}.{alias.name}"
            elif isinstance(child, _CONTAINERS):
                stack.append(child)
    return Aliases(mapping)


def dotted(node: ast.expr) -> str | None:
    """The literal dotted spelling of a Name/Attribute chain (``self.files``), unresolved."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    parts.reverse()
    return ".".join(parts)
