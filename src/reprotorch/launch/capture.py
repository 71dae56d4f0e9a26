"""Run a command to completion with its output captured to files, reporting progress while it runs.

``reprotorch check`` needs each run's standard output (to compare it), the tail
of its standard error (to explain a crash) and its last output line (to show
progress), without holding gigabytes of log in memory: both streams go to
files as they arrive, and only the last lines are kept.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

__all__ = ["Captured", "run_captured"]

_TAIL_LINES = 20


@dataclass
class Captured:
    """How one captured run ended."""

    status: int
    duration_s: float
    stdout_path: str
    stderr_path: str
    stderr_tail: list[str] = field(default_factory=list)


def _pump(stream: IO[bytes], sink: IO[bytes], last: list[str], tail: deque[str] | None) -> None:
    for raw in iter(stream.readline, b""):
        sink.write(raw)
        text = raw.decode("utf-8", "replace").rstrip()
        if text.strip():
            last[0] = text
            if tail is not None:
                tail.append(text)
    stream.close()


def run_captured(
    command: Sequence[str],
    program: str,
    env: Mapping[str, str],
    *,
    stdout_path: str,
    stderr_path: str,
    progress: Callable[[str, float], None] | None = None,
    interval_s: float = 0.25,
) -> Captured:
    """Run ``command`` (executing ``program``) and wait; ``progress(last_line, elapsed_s)`` is called periodically.

    The status is shell-style: the exit code, or 128 + N when signal N killed the
    command. On ``KeyboardInterrupt`` the command is terminated before re-raising.
    """
    started = time.monotonic()
    last = [""]
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    with open(stdout_path, "wb") as out_file, open(stderr_path, "wb") as err_file:
        proc = subprocess.Popen(
            list(command),
            executable=program,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        pumps = [
            threading.Thread(target=_pump, args=(proc.stdout, out_file, last, None), daemon=True),
            threading.Thread(target=_pump, args=(proc.stderr, err_file, last, tail), daemon=True),
        ]
        for t in pumps:
            t.start()
        try:
            while True:
                try:
                    status = proc.wait(timeout=interval_s)
                    break
                except subprocess.TimeoutExpired:
                    if progress is not None:
                        progress(last[0], time.monotonic() - started)
        except BaseException:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
        finally:
            for t in pumps:
                t.join(timeout=30)
    return Captured(
        status=128 - status if status < 0 else status,
        duration_s=time.monotonic() - started,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        stderr_tail=list(tail),
    )
