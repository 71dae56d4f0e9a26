"""set_deterministic / deterministic() / determinism_report: every flag set, restored, and reported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import pytest
import torch

import reprotorch
from reprotorch import DeterminismSettings, determinism_report, deterministic, set_deterministic
from reprotorch import determinism as det_mod


def _flags() -> dict:
    return DeterminismSettings.capture().to_dict()


@pytest.fixture(autouse=True)
def _quiet_and_clean(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.setattr(det_mod, "_cublas_before", det_mod._UNSET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("mode,warn_only", [(True, False), ("warn", True)])
def test_set_deterministic_sets_every_flag(mode: object, warn_only: bool) -> None:
    set_deterministic(mode)  # type: ignore[arg-type]
    assert torch.backends.cudnn.deterministic is True
    assert torch.backends.cudnn.benchmark is False
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled() is warn_only
    assert torch.utils.deterministic.fill_uninitialized_memory is True
    assert torch.backends.cuda.matmul.allow_tf32 is False
    assert torch.backends.cudnn.allow_tf32 is False
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_off_restores_pytorch_defaults_and_unsets_cublas() -> None:
    torch.backends.cudnn.benchmark = True
    set_deterministic(True)
    set_deterministic(False)
    assert _flags() == {
        "cudnn_deterministic": False,
        "cudnn_benchmark": False,
        "deterministic_algorithms": False,
        "deterministic_algorithms_warn_only": False,
        "fill_uninitialized_memory": True,
        "matmul_allow_tf32": False,
        "cudnn_allow_tf32": True,
        "cublas_workspace_config": None,
    }


def test_off_restores_users_own_cublas_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":0:0")
    set_deterministic(True)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    set_deterministic(False)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":0:0"


def test_leaving_the_context_forgets_what_it_overwrote(monkeypatch: pytest.MonkeyPatch) -> None:
    # The record of "unset before" outlived the context and later unset the user's own value.
    with deterministic():
        pass
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":0:0")
    set_deterministic(True)
    set_deterministic(False)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":0:0"


def test_an_undone_call_does_not_unset_a_value_set_later(monkeypatch: pytest.MonkeyPatch) -> None:
    set_deterministic(True).apply()
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # the user's own, deterministic
    set_deterministic(True)
    set_deterministic(False)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_off_keeps_a_value_the_user_set_while_on() -> None:
    set_deterministic(True)
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":0:0"
    set_deterministic(False)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":0:0"


def test_nested_contexts_then_off_unset_the_variable_again() -> None:
    set_deterministic(True)
    with deterministic("warn"):
        with deterministic():
            pass
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    set_deterministic(False)
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_keeps_a_deterministic_cublas_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    set_deterministic(True)
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_returned_settings_undo_the_call() -> None:
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = True
    before = _flags()
    previous = set_deterministic(True)
    assert previous.to_dict() == before
    previous.apply()
    assert _flags() == before


def test_context_manager_restores_on_exit_and_on_error() -> None:
    torch.backends.cudnn.benchmark = True
    before = _flags()
    with deterministic():
        assert torch.are_deterministic_algorithms_enabled()
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert _flags() == before
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    with pytest.raises(KeyError):
        with deterministic("warn"):
            raise KeyError("boom")
    assert _flags() == before


def test_deterministic_mode_takes_effect_in_torch() -> None:
    # A real effect of the switch on CPU: uninitialised memory is filled (NaN for floats),
    # so torch.empty no longer returns whatever the allocator held before.
    with deterministic(True):
        assert torch.isnan(torch.empty(64)).all()
        assert torch.are_deterministic_algorithms_enabled()
    assert not torch.are_deterministic_algorithms_enabled()


def test_bad_mode_changes_nothing() -> None:
    before = _flags()
    with pytest.raises(ValueError, match="'on'"):
        set_deterministic("on")  # type: ignore[arg-type]
    assert _flags() == before


def test_seed_everything_passes_deterministic() -> None:
    reprotorch.seed_everything(0, deterministic="warn")
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()


def test_report_reflects_state_and_serialises() -> None:
    set_deterministic(False)
    report = determinism_report()
    by_name = {c.name: c for c in report.controls}
    assert by_name["torch.use_deterministic_algorithms"].reproducible is False
    set_deterministic(True)
    report = determinism_report()
    by_name = {c.name: c for c in report.controls}
    assert by_name["torch.use_deterministic_algorithms"].reproducible is True
    assert by_name["CUBLAS_WORKSPACE_CONFIG"].value == ":4096:8"
    assert by_name["torch.backends.cudnn.benchmark"].applies is torch.cuda.is_available()
    doc = json.loads(json.dumps(report.to_dict()))
    assert {c["name"] for c in doc["controls"]} == set(by_name)
    text = str(report)
    assert "PYTHONHASHSEED" in text and "why it matters" in text


def _run(code: str, env_extra: dict[str, str | None], flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG")}
    for k, v in env_extra.items():
        if v is not None:
            env[k] = v
    return subprocess.run([sys.executable, *flags, "-W", "always", "-c", code], env=env, capture_output=True, text=True)


HASHSEED_SCRIPT = """
import os
{pre}
import reprotorch
reprotorch.set_deterministic(True)
reprotorch.set_deterministic(True)
print([c.reproducible for c in reprotorch.determinism_report().controls if c.name.startswith("PYTHONHASHSEED")][0])
"""


def test_hashseed_warning_when_not_set_at_startup() -> None:
    out = _run(HASHSEED_SCRIPT.format(pre=""), {})
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("PYTHONHASHSEED was not set when this interpreter started") == 1
    assert "reprotorch run" in out.stderr
    assert out.stdout.strip() == "False"


def test_hashseed_assigned_inside_program_is_still_detected() -> None:
    # detectron2 does this; it has no effect on the running interpreter.
    out = _run(HASHSEED_SCRIPT.format(pre='os.environ["PYTHONHASHSEED"] = "0"'), {})
    assert "PYTHONHASHSEED was not set" in out.stderr
    assert out.stdout.strip() == "False"


def test_no_hashseed_warning_when_set_at_startup() -> None:
    out = _run(HASHSEED_SCRIPT.format(pre=""), {"PYTHONHASHSEED": "3"})
    assert out.returncode == 0, out.stderr
    assert "PYTHONHASHSEED" not in out.stderr
    assert out.stdout.strip() == "True"


def test_hashseed_ignored_under_dash_e_is_reported_as_not_set() -> None:
    # python -E / -I ignore PYTHON* variables: string hashes are random despite PYTHONHASHSEED=3,
    # which the report used to call reproducible, without a warning.
    out = _run(HASHSEED_SCRIPT.format(pre=""), {"PYTHONHASHSEED": "3"}, flags=("-E",))
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("PYTHONHASHSEED was not set") == 1 and "-E or -I" in out.stderr
    assert out.stdout.strip() == "False"
