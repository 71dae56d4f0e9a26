"""``reprotorch run`` and its interpreter bootstrap, through the real command line in subprocesses."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_util import PY, clean_env, cli, one_line_error, write
from hypothesis import given, settings
from hypothesis import strategies as st

import reprotorch
from reprotorch.launch import BOOT_DIR, BOOT_VARS

BOOT_FILE = Path(BOOT_DIR) / "sitecustomize.py"








def load_boot_module() -> Any:
    """The bootstrap file as an ordinary module (under another name, so it does not boot this process)."""
    spec = importlib.util.spec_from_file_location("reprotorch_boot_under_test", BOOT_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


boot = load_boot_module()


# --------------------------------------------------------------------------- pure-Python seed derivation


@settings(max_examples=300, deadline=None)
@given(
    entropy=st.integers(0, 2**160),
    spawn_key=st.lists(st.integers(0, 2**32 - 1), max_size=9),
    n_words=st.integers(1, 8),
)
def test_bootstrap_seed_sequence_matches_numpy(entropy: int, spawn_key: list[int], n_words: int) -> None:
    expected = np.random.SeedSequence(entropy, spawn_key=spawn_key).generate_state(n_words, np.uint32)
    assert boot.seed_sequence_state(entropy, spawn_key, n_words) == expected.tolist()


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**128 - 1),
    keys=st.lists(st.one_of(st.integers(0, 2**64 - 1), st.text(max_size=12)), max_size=5),
    bits=st.sampled_from([32, 64, 128]),
)
def test_bootstrap_derive_seed_matches_reprotorch(seed: int, keys: list[Any], bits: int) -> None:
    assert boot.derive_seed(seed, *keys, bits=bits) == reprotorch.derive_seed(seed, *keys, bits=bits)


def test_bootstrap_and_launcher_agree_on_variable_names() -> None:
    names = (boot.SEED_VAR, boot.DETERMINISTIC_VAR, boot.THREADS_VAR, boot.TRACE_VAR, boot.REPORT_VAR, boot.PKG_VAR)
    assert set(names) == set(BOOT_VARS)


def test_multiprocessing_children_are_recognised() -> None:
    assert boot.is_multiprocessing_child(
        ["python", "-c", "from multiprocessing.spawn import spawn_main; spawn_main()", "--multiprocessing-fork"]
    )
    assert boot.is_multiprocessing_child(["python", "-c", "from multiprocessing.forkserver import main; main()"])
    assert not boot.is_multiprocessing_child(["python", "train.py", "--epochs", "3"])
    assert not boot.is_multiprocessing_child(["python", "-c", "print('multiprocessing')"])


# --------------------------------------------------------------------------- seeding at start-up


DRAWS = """
    import json, random, sys
    if len(sys.argv) > 1:
        import reprotorch
        reprotorch.seed_everything(int(sys.argv[1]))
    import torch
    import numpy as np
    print(json.dumps({
        "python": random.random(),
        "numpy": float(np.random.rand()),
        "torch": torch.rand(3).tolist(),
        "hash": hash("reprotorch"),
        "argv": sys.argv,
        "path": sys.path,
        "main": sys.modules["__main__"].__file__,
    }))
    sys.exit(7)
"""


def test_run_seed_gives_the_numbers_of_seed_everything(tmp_path: Path) -> None:
    script = write(tmp_path, "draws.py", DRAWS)
    reference = subprocess.run(
        [PY, str(script), "5"], env=clean_env(PYTHONHASHSEED="5"), capture_output=True, text=True, timeout=120
    )
    launched = cli("run", "--seed", "5", "--", PY, str(script), cwd=tmp_path)
    assert reference.returncode == 7, reference.stderr
    assert launched.returncode == 7, launched.stderr  # the exit status is the script's
    ref, got = json.loads(reference.stdout), json.loads(launched.stdout)
    for key in ("python", "numpy", "torch", "hash"):
        assert got[key] == ref[key], key
    # sys.argv, __main__ and sys.path are the script's own: the bootstrap left no trace in them.
    assert got["argv"] == [str(script)]
    assert got["main"] == str(script)
    assert got["path"] == ref["path"]
    assert BOOT_DIR not in got["path"]


NO_LIBS = """
    import importlib.util, json, random, sys
    importlib.util.find_spec("random")  # a probe must not use up the import hook
    print(json.dumps({
        "random": random.random(),
        "loaded": sorted(m for m in ("torch", "numpy", "reprotorch") if m in sys.modules),
        "hashseed": hash("abc"),
    }))
"""


def test_a_process_without_torch_or_numpy_never_gets_them(tmp_path: Path) -> None:
    script = write(tmp_path, "nolibs.py", NO_LIBS)
    manifest_path = tmp_path / "m.json"
    result = cli("run", "--seed", "11", "--manifest", str(manifest_path), "--", PY, str(script))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["loaded"] == []
    expected = __import__("random").Random(reprotorch.derive_seed(11, "source", "python", bits=64)).random()
    assert out["random"] == expected
    doc = json.loads(manifest_path.read_text())
    process = doc["processes"]["main"]
    # Recorded by the bootstrap's exit handler, after everything else ran: still no torch.
    assert process["torch_imported"] is False and process["numpy_imported"] is False
    assert process["seeded"] == ["python"]
    assert doc["torch"]["imported"] is False
    assert doc["run"]["seed"] == 11 and doc["run"]["exit_status"] == 0
    assert doc["environment"]["PYTHONHASHSEED"] == "11"


def test_run_without_options_changes_nothing(tmp_path: Path) -> None:
    result = cli(
        "run", "--", PY, "-c",
        "import json, os, sys; print(json.dumps([os.environ.get('PYTHONHASHSEED'), "
        "os.environ.get('PYTHONPATH'), 'sitecustomize' in sys.modules and "
        "'reprotorch' in (getattr(sys.modules['sitecustomize'], '__file__', '') or '')]))",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [None, None, False]


def test_an_existing_sitecustomize_still_runs(tmp_path: Path) -> None:
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "sitecustomize.py").write_text("import os\nos.environ['USER_SITECUSTOMIZE_RAN'] = 'yes'\n")
    env = clean_env(PYTHONPATH=str(site_dir))
    result = cli(
        "run", "--seed", "1", "--", PY, "-c",
        "import os, sys; print(os.environ.get('USER_SITECUSTOMIZE_RAN'), sys.modules['sitecustomize'].__file__)",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    ran, module_file = result.stdout.split()
    assert ran == "yes"
    assert module_file == str(site_dir / "sitecustomize.py")


def test_deterministic_and_the_flags_as_the_script_left_them(tmp_path: Path) -> None:
    script = write(tmp_path, "flags.py", """
        import os, torch
        print(torch.are_deterministic_algorithms_enabled(), os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
        torch.backends.cudnn.benchmark = True  # the script turns autotuning back on
    """)
    trace = tmp_path / "out" / "trace.jsonl"
    result = cli("run", "--seed", "0", "--deterministic", "--trace", str(trace), "--", PY, str(script))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", ":4096:8"]
    doc = json.loads((tmp_path / "out" / "trace.manifest.json").read_text())  # default: next to the trace
    assert doc["format"] == "reprotorch.manifest"
    assert doc["determinism"]["cudnn_benchmark"] is True
    assert doc["determinism"]["deterministic_algorithms"] is True
    assert doc["processes"]["main"]["determinism"]["cudnn_benchmark"] is True
    assert doc["run"]["deterministic"] is True
    assert doc["environment"]["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


LOADER = """
    import json, os, random, sys
    import numpy as np
    import torch
    from torch.utils.data import DataLoader, Dataset

    IMPORT_NOISE = random.random()  # drawn again in every spawned worker, which re-imports this module


    class Noisy(Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            b = sys.modules["_reprotorch_boot"].BOOT
            row = [float(i), IMPORT_NOISE, random.random(), float(np.random.rand()), torch.rand(1).item()]
            return torch.tensor(row, dtype=torch.float64), json.dumps([b.role, b.tracer is None, os.getpid()])


    if __name__ == "__main__":
        model = torch.nn.Linear(5, 1).double()
        loader = DataLoader(Noisy(), batch_size=2, shuffle=True, num_workers=2,
                            multiprocessing_context="spawn")
        batches, workers = [], []
        for x, info in loader:
            model(x).sum().backward()
            batches.append(x.tolist())
            workers += [json.loads(i) for i in info]
        print(json.dumps({"batches": batches, "workers": workers, "pid": os.getpid()}))
"""


def test_spawned_dataloader_workers_are_seeded_and_never_traced(tmp_path: Path) -> None:
    script = write(tmp_path, "loader.py", LOADER)
    outs, traces = [], []
    for i in (1, 2):
        trace = tmp_path / f"r{i}" / "trace.jsonl"
        result = cli("run", "--seed", "3", "--trace", str(trace), "--", PY, str(script), cwd=tmp_path, timeout=240)
        assert result.returncode == 0, result.stderr
        outs.append(json.loads(result.stdout))
        traces.append(trace)
    # Identical batches: the main process, and the workers' own start-up draws
    # (IMPORT_NOISE), are seeded in both runs.
    assert outs[0]["batches"] == outs[1]["batches"]
    for out in outs:
        roles = {(role, untraced) for role, untraced, _pid in out["workers"]}
        assert roles == {("worker", True)}
        assert {pid for *_, pid in out["workers"]}.isdisjoint({out["pid"]})
    # Only the main process wrote a trace (no rank files, no worker files).
    for out, trace in zip(outs, traces):
        files = sorted(p.name for p in trace.parent.iterdir())
        assert files == ["trace.jsonl", "trace.manifest.json"]
        from reprotorch.tracing import load_trace

        loaded = load_trace(trace)
        assert loaded.header["pid"] == out["pid"]
        assert loaded.num_steps >= 1


# --------------------------------------------------------------------------- statuses and errors



def test_unknown_program_exits_127_like_a_shell() -> None:
    result = cli("run", "--seed", "0", "--", "no-such-program-reprotorch")
    assert result.returncode == 127
    assert "no-such-program-reprotorch: command not found" in one_line_error(result)


def test_a_file_that_is_not_executable_exits_126(tmp_path: Path) -> None:
    target = tmp_path / "data.txt"
    target.write_text("not a program")
    result = cli("run", "--", str(target))
    assert result.returncode == 126
    assert "permission denied" in one_line_error(result)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "no command given"),
        (("--seed", "-1", "--", PY, "-c", "pass"), "expected an integer in [0, 4294967295], got -1"),
        (("--seed", "seven", "--", PY, "-c", "pass"), "got 'seven'"),
        (("--seed", str(2**32), "--", PY, "-c", "pass"), "got 4294967296"),
        (("--deterministic=always", "--", PY, "-c", "pass"), "only value --deterministic takes is 'warn'"),
    ],
)
def test_bad_input_is_one_line_and_status_2(args: tuple[str, ...], expected: str) -> None:
    result = cli("run", *args)
    assert result.returncode == 2
    assert expected in one_line_error(result)


def test_a_missing_script_is_pythons_one_line_error_and_status_2(tmp_path: Path) -> None:
    result = cli("run", "--seed", "0", "--", PY, str(tmp_path / "missing.py"))
    assert result.returncode == 2
    assert "can't open file" in one_line_error(result)


def test_a_signal_that_kills_the_command_is_128_plus_n(tmp_path: Path) -> None:
    result = cli(
        "run", "--seed", "9", "--manifest", str(tmp_path / "m.json"), "--", PY, "-c",
        "import os, signal; os.kill(os.getpid(), signal.SIGTERM)",
    )
    assert result.returncode == 128 + 15
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["run"]["exit_status"] == 143
    assert doc["processes"] == {}  # killed before its exit handler could report
    # So the manifest describes what the command was started with.
    assert doc["seed"] == 9 and doc["python"]["hashseed_at_startup"] == "9"
    assert doc["environment"]["PYTHONHASHSEED"] == "9"


def test_help_does_not_import_torch_or_numpy() -> None:
    code = textwrap.dedent("""
        import contextlib, io, sys
        from reprotorch.cli import main
        for argv in (["--help"], ["run", "--help"], ["check", "--help"], ["diff", "--help"], ["env", "--help"]):
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    main(argv)
                except SystemExit:
                    pass
        print(sorted(m for m in ("torch", "numpy") if m in sys.modules))
    """)
    result = subprocess.run([PY, "-c", code], env=clean_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_command_options_are_left_to_the_command(tmp_path: Path) -> None:
    # Without "--": the command starts at the first non-option; its own --seed stays its own.
    result = cli("run", "--seed", "4", PY, "-c", "import sys; print(sys.argv[1:])", "--seed", "9")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['--seed', '9']"
