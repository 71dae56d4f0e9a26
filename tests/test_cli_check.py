"""``reprotorch check``: real repeated runs of small real scripts, compared through traces, files and output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from cli_util import PY, clean_env, cli, one_line_error, write

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)









TRAIN = """
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(3):
        x = torch.randn(5, 4)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    print("final loss", loss.item())
"""


def test_an_unseeded_script_diverges_at_step_0_and_reproduces_with_seed(tmp_path: Path) -> None:
    script = write(tmp_path, "train.py", TRAIN)
    unseeded = cli("check", "--", PY, str(script), cwd=tmp_path)
    assert unseeded.returncode == 1, unseeded.stdout + unseeded.stderr
    out = unseeded.stdout
    assert out.startswith("not reproducible: run 2 differs from run 1")
    assert "first divergence at step 0" in out
    assert re.search(r"hint: \S+", out)  # with its likely cause
    assert unseeded.stderr == ""  # no progress off a terminal

    seeded = cli("check", "--seed", "0", "--", PY, str(script), cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    first = seeded.stdout.splitlines()[0]
    assert first.startswith("reproducible: 2 runs, 3 steps, bitwise identical (fingerprint xxh3-128:")


HASH_ORDER = """
    names = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"}
    print("classes:", " ".join(names))
    import time
    print(f"took {time.perf_counter_ns()} ns")
"""


def test_set_iteration_order_differs_unless_hashseed_is_fixed_and_vary_exposes_it(tmp_path: Path) -> None:
    script = write(tmp_path, "classes.py", HASH_ORDER)
    ignore = ("--stdout", "--ignore-line", r"^took \d+ ns$")
    unseeded = cli("check", *ignore, "--", PY, str(script))
    assert unseeded.returncode == 1, unseeded.stdout + unseeded.stderr
    assert "standard output differs at line 1" in unseeded.stdout

    seeded = cli("check", "--seed", "0", *ignore, "--", PY, str(script))
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert "compared: stdout (1 lines)" in seeded.stdout

    # Without --ignore-line the timing line differs: the filter is what made it pass.
    unfiltered = cli("check", "--seed", "0", "--stdout", "--", PY, str(script))
    assert unfiltered.returncode == 1
    assert "line 2" in unfiltered.stdout

    varied = cli("check", "--seed", "0", "--vary", "hashseed", *ignore, "--json", "--", PY, str(script))
    assert varied.returncode == 1, varied.stdout + varied.stderr
    doc = json.loads(varied.stdout)
    assert doc["status"] == "diverged"
    assert [r["pythonhashseed"] for r in doc["run_details"]] == ["2", "3"]
    (difference,) = doc["differences"]
    assert difference["stdout"]["line"] == 1
    assert {"key": "environment.PYTHONHASHSEED", "a": "2", "b": "3", "importance": "high"} in difference["environment"]


DDP = """
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(2):
        x = torch.randn(3, 4)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        for p in model.parameters():
            dist.all_reduce(p.grad)
            p.grad /= dist.get_world_size()
        opt.step()
    dist.destroy_process_group()
"""


def test_torchrun_ranks_are_traced_and_compared(tmp_path: Path) -> None:
    script = write(tmp_path, "ddp.py", DDP)
    torchrun = str(Path(PY).parent / "torchrun")
    keep = tmp_path / "keep"
    result = cli(
        "check", "--seed", "0", "--keep", str(keep), "--",
        torchrun, "--standalone", "--nproc_per_node", "2", str(script),
        cwd=tmp_path, timeout=400,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("reproducible: 2 runs, 2 steps, bitwise identical")
    assert "traces rank0, rank1" in result.stdout
    for i in (1, 2):
        run_dir = keep / f"run{i}"
        assert (run_dir / f"run{i}.trace.rank0.jsonl").is_file()
        assert (run_dir / f"run{i}.trace.rank1.jsonl").is_file()
        assert not (run_dir / f"run{i}.trace.jsonl").exists()  # the torchrun agent traced nothing
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert set(manifest["processes"]) == {"main", "rank0", "rank1"}
        assert manifest["run"]["manifest_from"].startswith("exit of rank0")


NOISY_CHECKPOINT = """
    import os
    import numpy as np
    import torch

    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(2):
        loss = model(torch.randn(4, 3)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    os.makedirs("out", exist_ok=True)
    state = model.state_dict()
    # After training, outside anything traced: noise from the OS, which no seed controls.
    state["bias"] = state["bias"] + float(int.from_bytes(os.urandom(3), "little") + 1)
    torch.save(state, "out/model.pt")
    np.save("out/preds.npy", model(torch.ones(1, 3)).detach().numpy())
"""


def test_compare_catches_a_differing_checkpoint_when_traces_agree(tmp_path: Path) -> None:
    write(tmp_path, "train.py", NOISY_CHECKPOINT)
    result = cli(
        "check", "--seed", "0", "--compare", "out/*.pt", "--compare", "out/*.npy", "--json", "--",
        PY, "train.py", cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    (difference,) = doc["differences"]
    assert difference["traces"] == []  # training itself reproduced
    assert [f["path"] for f in difference["files"]] == ["out/model.pt"]  # preds.npy agreed
    first_files = doc["run_details"][0]["files"]
    assert first_files["out/model.pt"]["how"] == "content"
    assert first_files["out/preds.npy"]["how"] == "content"


THREADS = """
    import torch
    print("intra-op threads:", torch.get_num_threads())
"""


@pytest.mark.skipif(CORES < 2, reason="needs two usable cores to vary the thread count")
def test_vary_threads_gives_odd_runs_every_core_and_even_runs_one(tmp_path: Path) -> None:
    script = write(tmp_path, "threads.py", THREADS)
    result = cli("check", "--vary", "threads", "--stdout", "--json", "--", PY, str(script))
    assert result.returncode == 1, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    cores = CORES
    assert [r["threads"] for r in doc["run_details"]] == [cores, 1]
    stdout = doc["differences"][0]["stdout"]
    assert (stdout["a"], stdout["b"]) == (f"intra-op threads: {cores}", "intra-op threads: 1")


@pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")
def test_progress_is_shown_on_a_terminal_only(tmp_path: Path) -> None:
    import pty
    import select

    script = write(tmp_path, "slow.py", """
        import time
        print("epoch 1 of 1", flush=True)
        time.sleep(1.0)
    """)
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [PY, "-m", "reprotorch", "check", "--stdout", "--", PY, str(script)],
            stdout=subprocess.PIPE, stderr=terminal, env=clean_env(), text=True,
        )
        chunks = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunks.append(os.read(controller, 4096))
                except OSError:
                    break
            elif proc.poll() is not None:
                break
        stdout, _ = proc.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    progress = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, stdout + progress
    assert "run 1/2" in progress and "run 2/2" in progress
    assert "epoch 1 of 1" in progress  # the command's last output line
    assert stdout.startswith("reproducible: 2 runs")  # the verdict is on standard output only


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "no command given"),
        (("-n", "1", "--", PY, "-c", "pass"), "expected at least 2 runs"),
        (("--seed", "x", "--", PY, "-c", "pass"), "got 'x'"),
        (("--vary", "moon", "--", PY, "-c", "pass"), "comma-separated list of hashseed, threads"),
        (("--stdout", "--ignore-line", "(", "--", PY, "-c", "pass"), "not a valid regular expression"),
        (("--", "no-such-program-reprotorch"), "command not found"),
        (("--", PY, "-c", "pass"), "nothing to compare"),
        (("--compare", "nothing-matches-*.pt", "--", PY, "-c", "pass"), "matched no file after run 1"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    result = cli("check", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in one_line_error(result)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--json",), "no command given"),
        (("--json", "--", "no-such-program-reprotorch"), "command not found"),
        (("--json", "--keep", "file.txt/keep", "--", PY, "-c", "pass"), "cannot create the --keep directory"),
        (("--json", "--", PY, "-c", "pass"), "nothing to compare"),
    ],
)
def test_json_errors_are_a_document_too(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    (tmp_path / "file.txt").write_text("a file, not a directory")
    result = cli("check", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in one_line_error(result)
    doc = json.loads(result.stdout)
    assert doc["format"] == "reprotorch.check" and doc["status"] == "error" and doc["exit_status"] == 2
    assert expected in doc["error"]


def test_a_missing_script_is_one_line_and_status_2(tmp_path: Path) -> None:
    result = cli("check", "--stdout", "--", PY, str(tmp_path / "missing.py"))
    assert result.returncode == 2
    line = one_line_error(result)
    assert "run 1 of 2 failed: the command exited with status 2" in line
    assert "can't open file" in line


def test_a_crashing_command_is_one_line_with_its_error_and_status_2(tmp_path: Path) -> None:
    script = write(tmp_path, "crash.py", """
        print("starting")
        raise ZeroDivisionError("the model blew up")
    """)
    result = cli("check", "--stdout", "--json", "--", PY, str(script))
    assert result.returncode == 2
    line = one_line_error(result)
    assert "exited with status 1: ZeroDivisionError: the model blew up" in line
    doc = json.loads(result.stdout)
    assert doc["status"] == "error" and doc["exit_status"] == 2
    assert doc["stderr_tail"][0].startswith("Traceback")  # the full tail is in the JSON


def test_keep_replaces_its_own_runs_but_never_a_foreign_directory(tmp_path: Path) -> None:
    script = write(tmp_path, "hello.py", 'print("hello")\n')
    keep = tmp_path / "keep"
    for _ in range(2):  # the second check replaces the first one's runs
        result = cli("check", "--stdout", "--keep", str(keep), "--", PY, str(script))
        assert result.returncode == 0, result.stdout + result.stderr
    assert (keep / "run2" / "stdout.txt").read_text() == "hello\n"
    assert (keep / "run1" / "manifest.json").is_file()

    foreign = tmp_path / "mine"
    (foreign / "run1").mkdir(parents=True)
    (foreign / "run1" / "precious.txt").write_text("do not delete")
    result = cli("check", "--stdout", "--keep", str(foreign), "--", PY, str(script))
    assert result.returncode == 2
    assert "was not written by reprotorch check" in one_line_error(result)
    assert (foreign / "run1" / "precious.txt").read_text() == "do not delete"


SEEDS_ITS_OWN = """
    import numpy as np
    import torch

    torch.manual_seed(0)
    np.random.seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(2):
        x = torch.randn(5, 4) + float(np.random.rand())
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
"""


def test_a_reproducible_verdict_still_shows_what_was_set_aside(tmp_path: Path) -> None:
    # Python's generator starts from fresh OS entropy in each run but is never drawn from:
    # reproducible, and the verdict says why that difference did not count.
    script = write(tmp_path, "train.py", SEEDS_ITS_OWN)
    result = cli("check", "--", PY, str(script), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    notes = [line for line in result.stdout.splitlines() if line.startswith("  note: ")]
    assert notes and any("python" in n for n in notes), result.stdout
    doc = json.loads(cli("check", "--json", "--", PY, str(script), cwd=tmp_path).stdout)
    assert doc["reproducible"] is True
    assert any("python" in n for n in doc["notes"])
