"""``reprotorch lint``: find randomness hazards in training code without running it.

Exit status: 0 nothing found, 1 something found (any severity; ``--exit-zero``
keeps 0), 2 usage error (bad option, unknown code, missing path, bad config).
"""

from __future__ import annotations

import argparse
import sys


def _codes(value: str) -> list[str]:
    return [c for c in (part.strip() for part in value.split(",")) if c]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``reprotorch lint``."""
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="files or folders to check (default: .); '-' reads stdin")
    parser.add_argument("--select", type=_codes, metavar="CODES",
                        help="comma-separated rule codes or prefixes to report (replaces the "
                             "configured selection), e.g. RPT001,RPT002 or ALL")
    parser.add_argument("--ignore", type=_codes, metavar="CODES",
                        help="comma-separated rule codes or prefixes not to report (added to "
                             "the configured ones), e.g. RPT012")
    parser.add_argument("--exclude", type=_codes, metavar="PATTERNS",
                        help="comma-separated glob patterns of files/folders to skip (added to "
                             "the configured ones)")
    parser.add_argument("--format", choices=("text", "json", "github"), default="text",
                        help="output format (default: text)")
    parser.add_argument("--exit-zero", action="store_true",
                        help="exit 0 even when problems are found")
    config = parser.add_mutually_exclusive_group()
    config.add_argument("--config", metavar="PYPROJECT",
                        help="read [tool.reprotorch.lint] from this file instead of the nearest "
                             "pyproject.toml")
    config.add_argument("--isolated", action="store_true",
                        help="ignore every pyproject.toml")
    parser.add_argument("--stdin-filename", metavar="NAME", default="<stdin>",
                        help="the path to show for source read from stdin ('-')")
    parser.add_argument("--explain", metavar="CODE",
                        help="print what a rule finds, why it matters and how to fix it, "
                             "then exit")


def _explain(code: str) -> int:
    from reprotorch.cli import CLIError
    from reprotorch.lint import RULES

    rule = RULES.get(code.strip().upper())
    if rule is None:
        raise CLIError(f"unknown rule code {code!r}; expected one of {', '.join(RULES)}")
    indent = "    "
    print(f"{rule.code} {rule.name} ({rule.severity})\n")
    print(f"Finds: {rule.summary}.\n")
    print(f"Why: {rule.why}\n")
    print("Wrong:\n" + "\n".join(indent + line for line in rule.wrong.splitlines()) + "\n")
    print("Right:\n" + "\n".join(indent + line for line in rule.right.splitlines()) + "\n")
    print(f"Fix: {rule.fix}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Lint the paths, print the findings in the chosen format, return the exit status."""
    from pathlib import Path

    from reprotorch.cli import CLIError
    from reprotorch.lint.api import check_files, check_source
    from reprotorch.lint.config import LintConfig, find_pyproject, load_config
    from reprotorch.lint.paths import discover
    from reprotorch.lint.report import render

    if args.explain:
        return _explain(args.explain)
    paths = args.paths or ["."]
    use_stdin = "-" in paths
    if use_stdin and len(paths) > 1:
        raise CLIError("'-' (stdin) cannot be combined with other paths")
    try:
        if args.isolated:
            cfg = LintConfig()
        elif args.config:
            if not Path(args.config).is_file():
                raise CLIError(f"--config: no such file: {args.config!r}")
            cfg = load_config(args.config)
        else:
            start = Path.cwd() if use_stdin else Path(paths[0])
            if not start.exists():
                raise CLIError(f"no such file or directory: {paths[0]!r}")
            cfg = load_config(find_pyproject(start))
        cfg = cfg.with_overrides(select=args.select, ignore=args.ignore, exclude=args.exclude)
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None
    if use_stdin:
        text = sys.stdin.read()
        findings = check_source(text, args.stdin_filename, select=sorted(cfg.select),
                                ignore=sorted(cfg.ignore))
        files_checked = 1
    else:
        try:
            files = discover(paths, exclude=cfg.exclude, base=cfg.base)
        except FileNotFoundError as exc:
            raise CLIError(str(exc)) from None
        findings = check_files(files, cfg.enabled)
        files_checked = findings.files_checked
        if not files:
            print("reprotorch lint: warning: no Python files to check under "
                  f"{', '.join(paths)} (git-ignored and excluded files are skipped)",
                  file=sys.stderr)
    sys.stdout.write(render(args.format, findings, files_checked))
    return 1 if findings and not args.exit_zero else 0
