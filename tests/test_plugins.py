"""A random source shipped by another package is discovered through the ``reprotorch.sources`` entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN = '''
import random

class _Source:
    name = "toylib"
    def __init__(self):
        self.rng = random.Random()
    def available(self):
        return True
    def seed(self, seed):
        self.rng.seed(seed)
    def get_state(self):
        return list(self.rng.getstate()[1])
    def set_state(self, state):
        self.rng.setstate((3, tuple(state), None))

SOURCE = _Source()
'''

BROKEN = "raise ImportError('toylib_broken needs a GPU driver')\n"


def _install_fake_distribution(site: Path) -> None:
    (site / "toylib_rng.py").write_text(PLUGIN)
    (site / "toylib_broken.py").write_text(BROKEN)
    dist = site / "toylib-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toylib\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[reprotorch.sources]\ntoylib = toylib_rng:SOURCE\nbroken = toylib_broken:SOURCE\n"
    )


def test_entry_point_source_is_seeded_captured_and_broken_plugins_only_warn(tmp_path: Path) -> None:
    _install_fake_distribution(tmp_path)
    code = textwrap.dedent(
        """
        import reprotorch, toylib_rng
        from reprotorch.sources import source_names
        assert "toylib" in source_names(), source_names()
        reprotorch.seed_everything(5)
        a = toylib_rng.SOURCE.rng.random()
        reprotorch.seed_everything(5)
        assert toylib_rng.SOURCE.rng.random() == a
        state = reprotorch.capture_rng_state()
        b = toylib_rng.SOURCE.rng.random()
        reprotorch.restore_rng_state(state)
        assert toylib_rng.SOURCE.rng.random() == b
        print("OK", "toylib" in state.sources)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "OK True"
    assert "could not load random source plugin 'broken'" in out.stderr
