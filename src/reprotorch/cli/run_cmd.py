"""``reprotorch run``: run any command with seeding, determinism and tracing injected.

``reprotorch run --seed 0 --deterministic --trace t.jsonl -- python train.py``
starts ``python train.py`` with ``PYTHONHASHSEED``, ``REPROTORCH_SEED`` and
``CUBLAS_WORKSPACE_CONFIG`` set and reprotorch's bootstrap on ``PYTHONPATH``, so
that every Python process of the command (torchrun ranks and spawned DataLoader
workers included) is seeded like ``seed_everything(0)`` before its first line,
and the processes that run the model are traced -- with no change to the script.

Without ``--trace`` or ``--manifest`` the command *replaces* this process
(``exec``): nothing of reprotorch stays between the command and its caller, so
signals, the exit status and the terminal behave exactly as without it. With
them, reprotorch waits for the command to write the manifest afterwards; the
exit status is still the command's (128 + N when a signal N killed it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import subprocess

from . import CLIError

TAKES_COMMAND = True

MAX_SEED = 2**32 - 1


def seed_argument(text: str) -> int:
    """argparse type for ``--seed``: an integer in [0, 2**32 - 1], with a message that says so."""
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer in [0, {MAX_SEED}], got {text!r}"
        ) from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, {MAX_SEED}], got {value}")
    return value


def deterministic_argument(text: str) -> bool | Literal["warn"]:
    """argparse type for ``--deterministic=VALUE``: only ``warn`` (a bare ``--deterministic`` means on)."""
    if text == "warn":
        return "warn"
    raise argparse.ArgumentTypeError(
        f"the only value --deterministic takes is 'warn' (as --deterministic=warn), got {text!r}"
    )


def add_command_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``check``."""
    parser.add_argument(
        "--seed",
        type=seed_argument,
        metavar="N",
        help="seed every Python process like seed_everything(N) at start-up; also sets "
        "PYTHONHASHSEED=N and REPROTORCH_SEED=N. Without it nothing is seeded.",
    )
    parser.add_argument(
        "--deterministic",
        nargs="?",
        const=True,
        default=False,
        type=deterministic_argument,
        metavar="warn",
        help="turn every determinism control on in every process (and set "
        "CUBLAS_WORKSPACE_CONFIG); --deterministic=warn only warns about nondeterministic kernels",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``reprotorch run``."""
    parser.usage = "reprotorch run [options] -- COMMAND [ARGS...]"
    add_command_arguments(parser)
    parser.add_argument(
        "--trace",
        metavar="PATH",
        help="trace every step of the processes that run the model (one file per rank)",
    )
    parser.add_argument(
        "--manifest",
        metavar="PATH",
        help="write the run's manifest here (default: next to the trace, or none)",
    )
    parser.add_argument(
        "command",
        nargs="*",
        metavar="COMMAND",
        help="the command to run, after '--': python train.py, python -m pkg, torchrun ..., a console script",
    )


def check_output_path(path: str, what: str) -> str:
    """``path`` made absolute, with its directory created; a one-line error if it cannot be written."""
    p = Path(path).expanduser().absolute()
    if p.is_dir():
        raise CLIError(f"{what} {path!r} is a directory; give a file path")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create the directory of {what} {path!r}: {exc.strerror or exc}") from None
    if not os.access(p.parent, os.W_OK):
        raise CLIError(f"cannot write {what} {path!r}: its directory is not writable")
    return str(p)


def require_command(command: Sequence[str], verb: str) -> list[str]:
    """The command, or a one-line error saying how to give one."""
    if not command:
        raise CLIError(
            f"no command given; put it after '--', e.g. reprotorch {verb} --seed 0 -- python train.py"
        )
    return list(command)


def wait_forwarding_signals(proc: subprocess.Popen[Any]) -> int:
    """Wait for ``proc``; SIGTERM/SIGHUP sent to us go to it, Ctrl-C is left to it (it got its own).

    Returns the shell-style status: the exit code, or 128 + N for a signal N.
    """
    import signal

    def forward(signum: int, _frame: Any) -> None:
        try:
            proc.send_signal(signum)
        except OSError:
            pass

    previous: dict[int, Any] = {}
    handled: list[tuple[int, Any]] = [(signal.SIGINT, signal.SIG_IGN)]
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            handled.append((getattr(signal, name), forward))
    for signum, handler in handled:
        try:
            previous[signum] = signal.signal(signum, handler)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        status = proc.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - status if status < 0 else status


def run(args: argparse.Namespace) -> int:
    """Run the command; return its exit status."""
    from ..launch import LaunchSettings, ProgramNotFound, child_environment, resolve_program

    command = require_command(args.command, "run")
    trace = check_output_path(args.trace, "--trace") if args.trace else None
    manifest_path = args.manifest
    if manifest_path is None and trace is not None:
        from ..launch.reports import default_manifest_path

        manifest_path = default_manifest_path(trace)
    if manifest_path is not None:
        manifest_path = check_output_path(manifest_path, "--manifest")

    settings = LaunchSettings(seed=args.seed, deterministic=args.deterministic, trace=trace)
    env = child_environment(settings)
    try:
        program = resolve_program(command, env)
    except ProgramNotFound as exc:
        print(f"reprotorch run: error: {exc}", file=sys.stderr)
        return exc.status

    if manifest_path is None and os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execve(program, command, env)
        except OSError as exc:
            raise CLIError(f"cannot execute {command[0]!r}: {exc.strerror or exc}", 126) from None

    # subprocess and tempfile are only needed on this path, not before an exec.
    import subprocess
    import tempfile
    import time

    with tempfile.TemporaryDirectory(prefix="reprotorch-run-") as report_dir:
        settings = LaunchSettings(
            seed=args.seed, deterministic=args.deterministic, trace=trace, report_dir=report_dir
        )
        env = child_environment(settings)
        started = time.monotonic()
        try:
            proc = subprocess.Popen(command, executable=program, env=env)
        except OSError as exc:
            raise CLIError(f"cannot execute {command[0]!r}: {exc.strerror or exc}", 126) from None
        status = wait_forwarding_signals(proc)
        duration = time.monotonic() - started
        if manifest_path is not None:
            from .._io import atomic_write_json
            from ..launch.reports import collect_reports, run_manifest

            document = run_manifest(
                collect_reports(report_dir),
                command=command,
                exit_status=status,
                settings=settings,
                child_env=env,
                duration_s=duration,
            )
            atomic_write_json(manifest_path, document)
    return status
