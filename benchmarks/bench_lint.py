"""How fast is ``reprotorch lint``? Target: a 50,000-line tree in under 5 seconds on one core.

Builds a temporary tree of realistic training code -- the annotated corpus
snippets from ``tests/lint_corpus`` (datasets, training loops, samplers,
models), with names varied so no two files are identical -- until it holds at
least 50,000 lines, then times, side by side in the same process and pinned
to one core:

* ``parse only``: reading every file and ``ast.parse`` -- the floor any
  AST-based linter pays;
* ``reprotorch lint``: ``check_paths`` end to end (discovery, reading,
  parsing, all rules, noqa);

and prints the median of several rounds, lines/s and the ratio lint/parse.
Run: ``python benchmarks/bench_lint.py [--lines 50000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "lint_corpus"


def build_tree(directory: Path, min_lines: int) -> tuple[int, int]:
    """Write variants of the corpus snippets under ``directory``; return (files, lines)."""
    snippets = [p.read_text() for p in sorted(CORPUS.glob("*.py"))]
    if not snippets:
        raise SystemExit(f"no corpus snippets found in {CORPUS}")
    files = lines = 0
    i = 0
    while lines < min_lines:
        text = snippets[i % len(snippets)]
        variant = i // len(snippets)
        # vary identifiers so files differ (the linter caches nothing, but be honest)
        text = text.replace("def ", f"def v{variant}_").replace("class ", f"class V{variant}")
        package = directory / f"pkg{i % 20:02d}" / f"sub{(i // 20) % 5}"
        package.mkdir(parents=True, exist_ok=True)
        (package / f"module_{i:04d}.py").write_text(text)
        files += 1
        lines += text.count("\n")
        i += 1
    return files, lines


def parse_only(directory: Path) -> int:
    count = 0
    for path in sorted(directory.rglob("*.py")):
        ast.parse(path.read_bytes(), filename=str(path))
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from reprotorch.lint import check_paths

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        core_note = "pinned to one core"
    else:
        core_note = "single-threaded (no affinity control on this platform)"

    with tempfile.TemporaryDirectory(prefix="bench_lint_") as tmp:
        tree = Path(tmp)
        n_files, n_lines = build_tree(tree, args.lines)
        print(f"tree: {n_files} files, {n_lines} lines ({core_note}), {args.rounds} rounds")
        parse_times, lint_times = [], []
        findings = 0
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            parse_only(tree)
            parse_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            result = check_paths([tree], config=False)
            lint_times.append(time.perf_counter() - t0)
            findings = len(result)
        p = statistics.median(parse_times)
        lt = statistics.median(lint_times)
        print(f"parse only       : median {p:6.3f} s  ({n_lines / p:10,.0f} lines/s)")
        print(f"reprotorch lint  : median {lt:6.3f} s  ({n_lines / lt:10,.0f} lines/s), "
              f"{findings} findings")
        print(f"ratio lint/parse : {lt / p:.2f}x")
        print(f"target           : < 5 s for 50,000 lines -> "
              f"{'met' if lt * 50_000 / n_lines < 5 else 'NOT met'} "
              f"(scaled: {lt * 50_000 / n_lines:.2f} s)")


if __name__ == "__main__":
    main()
