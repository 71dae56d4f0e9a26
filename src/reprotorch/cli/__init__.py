"""The ``reprotorch`` command line.

Each verb lives in its own module of this package, which exposes
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only
when their verb runs (or for ``--help`` of that verb), so ``reprotorch --help``
starts without importing torch or NumPy.

Exit status: 0 success, 1 "not reproducible" / "differs", 2 usage or runtime error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main", "VERBS"]

# verb -> (module, one-line help). Order is the order shown in --help.
VERBS: dict[str, tuple[str, str]] = {
    "run": ("reprotorch.cli.run_cmd", "run a command with seeding, determinism and tracing injected"),
    "check": ("reprotorch.cli.check_cmd", "run a command several times and report whether it reproduces"),
    "diff": ("reprotorch.cli.diff_cmd", "compare two manifests, traces or RNG-state files"),
    "env": ("reprotorch.cli.env_cmd", "show the reproducibility manifest of this machine and process"),
    "lint": ("reprotorch.cli.lint_cmd", "find randomness hazards in training code"),
    "demo": ("reprotorch.cli.demo_cmd", "train the detection demo and print the ablation of every control"),
}


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2 (or ``status``)."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


class _Parser(argparse.ArgumentParser):
    # The parser of the verb being run (set by build_parser), to split off its COMMAND.
    verb_parser: argparse.ArgumentParser | None = None

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"reprotorch: error: {message} (see '{self.prog} --help')\n")


def build_parser(load_verb: str | None = None) -> _Parser:
    """The top-level parser; only ``load_verb``'s module is imported to fill in its arguments."""
    parser = _Parser(
        prog="reprotorch",
        description="Make PyTorch training bit-reproducible, prove it, and explain it when it is not.",
    )
    from reprotorch import __version__

    parser.add_argument("--version", action="version", version=f"reprotorch {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    for verb, (module_name, help_text) in VERBS.items():
        p = sub.add_parser(verb, help=help_text, description=help_text, add_help=verb == load_verb)
        if verb == load_verb:
            importlib.import_module(module_name).add_arguments(p)
            parser.verb_parser = p
    return parser


def _split_command(verb_parser: argparse.ArgumentParser, tokens: list[str]) -> tuple[list[str], list[str]]:
    """Split a verb's arguments into its own options and the COMMAND to run.

    The command starts after ``--`` or at the first token that is neither an
    option nor an option's value, so ``run --seed 0 python train.py --lr 1``
    leaves ``--lr`` to the command. Options with an optional value
    (``--deterministic[=warn]``) take it only in the ``=`` form.
    """
    takes_value: dict[str, bool] = {}
    for action in verb_parser._actions:
        for option in action.option_strings:
            takes_value[option] = action.nargs not in (0, "?")
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "--":
            return tokens[:i], tokens[i + 1 :]
        if token.startswith("-") and token != "-":
            if "=" not in token and takes_value.get(token, False):
                i += 2
            else:
                i += 1
            continue
        return tokens[:i], tokens[i:]
    return tokens, []


def _verb_of(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg if arg in VERBS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``reprotorch`` console script; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    verb = _verb_of(args_list)
    parser = build_parser(verb)
    command: list[str] | None = None
    if verb is not None and parser.verb_parser is not None:
        if getattr(importlib.import_module(VERBS[verb][0]), "TAKES_COMMAND", False):
            at = args_list.index(verb) + 1
            own, command = _split_command(parser.verb_parser, args_list[at:])
            args_list = args_list[:at] + own
    args = parser.parse_args(args_list)
    if command is not None:
        args.command = command
    if args.verb is None:
        parser.print_help()
        return 2
    module = importlib.import_module(VERBS[args.verb][0])
    try:
        return int(module.run(args))
    except CLIError as exc:
        print(f"reprotorch {args.verb}: error: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print(f"reprotorch {args.verb}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `reprotorch diff a b | head`: the reader left; no error message, no traceback.
        # Point stdout at devnull so the interpreter's final flush does not complain.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer cut off by its reader
    except (ValueError, TypeError, OSError) as exc:
        print(f"reprotorch {args.verb}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
