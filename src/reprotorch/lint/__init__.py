"""``reprotorch.lint``: find randomness hazards in training code by reading it.

The code is parsed with the standard :mod:`ast` module and never imported or
run, so the linter works on code whose dependencies are missing and on broken
environments; this package imports only the standard library.

>>> from reprotorch.lint import check_source
>>> [f.code for f in check_source("import os\\nfor f in os.listdir('data'):\\n    load(f)\\n")]
['RPT002']
"""

from __future__ import annotations

from .api import LintResult, check_paths, check_source
from .config import LintConfig, load_config
from .findings import SEVERITIES, Finding, Severity
from .rules import RULES, Rule

__all__ = [
    "check_source",
    "check_paths",
    "Finding",
    "LintResult",
    "Severity",
    "SEVERITIES",
    "Rule",
    "RULES",
    "LintConfig",
    "load_config",
]
