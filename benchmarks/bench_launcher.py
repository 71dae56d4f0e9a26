"""Launcher overhead: ``reprotorch run --seed 0 -- python -c pass`` against ``python -c pass``.

``reprotorch run`` costs one extra interpreter start (the ``reprotorch`` command
itself, which then ``exec``s the command) plus the bootstrap in the command's
interpreter. Target: at most 100 ms more than the bare command. The two are run
alternately, many times, and medians are printed, because this machine is noisy.

Also measured: the same with a script that imports torch (the bootstrap's
post-import hook then seeds torch and imports reprotorch), and whether
``reprotorch --help`` imports torch (it must not).

Usage: ``python benchmarks/bench_launcher.py [--repeat N]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

PY = sys.executable


def reprotorch_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m reprotorch``."""
    script = shutil.which("reprotorch", path=os.path.dirname(PY))
    return [script] if script else [PY, "-m", "reprotorch"]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPROTORCH_")}
    env.pop("PYTHONHASHSEED", None)
    env["OMP_NUM_THREADS"] = "1"
    return env


def time_once(argv: Sequence[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def compare(label: str, bare: list[str], launched: list[str], repeat: int) -> tuple[float, float]:
    env = clean_env()
    time_once(bare, env)  # warm the file cache for both
    time_once(launched, env)
    a: list[float] = []
    b: list[float] = []
    for _ in range(repeat):
        a.append(time_once(bare, env))
        b.append(time_once(launched, env))
    ma, mb = statistics.median(a), statistics.median(b)
    print(
        f"{label:<34} bare {ma * 1000:7.1f} ms   under run {mb * 1000:7.1f} ms   "
        f"overhead {(mb - ma) * 1000:+7.1f} ms   ratio {mb / ma:5.2f}x   (median of {repeat})"
    )
    return ma, mb


def help_imports_torch() -> bool:
    code = (
        "import contextlib, io, sys\n"
        "from reprotorch.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True, env=clean_env())
    return out.stdout.strip() == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--torch-repeat", type=int, default=7)
    args = parser.parse_args()
    rt = reprotorch_command()
    print(f"python: {PY}\nreprotorch: {' '.join(rt)}\ncpus: {os.cpu_count()}")
    # With it set, every module is compiled at every start: the CLI's own start-up looks slower.
    print(f"PYTHONDONTWRITEBYTECODE: {os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')}\n")
    _, _ = compare("python -c pass", [PY, "-c", "pass"], [*rt, "run", "--seed", "0", "--", PY, "-c", "pass"],
                   args.repeat)
    _, _ = compare(
        "reprotorch --help (no launch)", [PY, "-c", "pass"], [*rt, "--help"], args.repeat
    )
    _, _ = compare(
        "python -c 'import torch'",
        [PY, "-c", "import torch"],
        [*rt, "run", "--seed", "0", "--", PY, "-c", "import torch"],
        args.torch_repeat,
    )
    print(f"\nreprotorch --help imports torch: {'YES (bug)' if help_imports_torch() else 'no'}")
    print("target: 'python -c pass' overhead at most +100 ms")


if __name__ == "__main__":
    main()
