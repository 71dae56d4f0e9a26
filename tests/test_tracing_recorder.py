"""reprotorch.Tracer: API, file handling, ranks, worker processes, and what it records."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import torch.optim.optimizer as optim_mod
from torch import nn
from torch.nn.modules import module as module_mod
from tracing_scripts.cnn import JitterDataset

import reprotorch
from reprotorch import Tracer, load_trace


def global_hook_counts() -> tuple[int, ...]:
    return (
        len(module_mod._global_forward_pre_hooks),
        len(module_mod._global_forward_hooks),
        len(optim_mod._global_optimizer_pre_hooks),
        len(optim_mod._global_optimizer_post_hooks),
    )


@pytest.fixture(autouse=True)
def _no_rank_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)


@pytest.mark.parametrize(
    "kwargs, error, needle",
    [
        ({"path": 3}, TypeError, "str or os.PathLike"),
        ({"path": b"t.jsonl"}, TypeError, "str or os.PathLike"),
        ({"path": ""}, ValueError, "empty"),
        ({"path": "t.jsonl", "every": 0}, ValueError, "every must be >= 1"),
        ({"path": "t.jsonl", "every": True}, TypeError, "every must be a positive int"),
        ({"path": "t.jsonl", "every": 1.5}, TypeError, "every must be a positive int"),
        ({"path": "t.jsonl", "record": "grads"}, TypeError, "tuple of names"),
        ({"path": "t.jsonl", "record": ("grads", "weights")}, ValueError, "weights"),
        ({"path": "t.jsonl", "model": "net"}, TypeError, "torch.nn.Module"),
        ({"path": "t.jsonl", "first_step": -1}, ValueError, "first_step must be >= 0"),
        ({"path": "t.jsonl", "first_step": True}, TypeError, "first_step must be an int"),
        ({"path": "t.jsonl", "first_step": 2.0}, TypeError, "first_step must be an int"),
        ({"path": "t.jsonl", "first_step": "3"}, TypeError, "first_step must be an int"),
    ],
)
def test_bad_arguments_raise_and_change_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                kwargs: dict, error: type,
                                                needle: str) -> None:
    before = global_hook_counts()
    monkeypatch.chdir(tmp_path)
    path = kwargs.pop("path")
    with pytest.raises(error, match=needle):
        Tracer(path, **kwargs)
    with pytest.raises(error, match=needle):
        with reprotorch.trace(kwargs.pop("model", None), path, **kwargs):
            pass  # pragma: no cover
    assert global_hook_counts() == before
    assert list(tmp_path.iterdir()) == []


def test_directory_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a directory"):
        Tracer(tmp_path)
    with pytest.raises(TypeError, match="needs path"):
        with reprotorch.trace(nn.Linear(2, 2)):
            pass  # pragma: no cover


def test_a_path_under_a_file_is_refused_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a directory")
    before = global_hook_counts()
    for path in (tmp_path / "notes.txt" / "t.jsonl", tmp_path / "notes.txt" / "deeper" / "t.jsonl"):
        with pytest.raises(ValueError, match="notes.txt' is a file, not a directory"):
            Tracer(path)
        with pytest.raises(ValueError, match="is a file, not a directory"):
            with reprotorch.trace(path=path):
                pass  # pragma: no cover
    assert global_hook_counts() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_failing_write_stops_the_tracer_not_the_training(tmp_path: Path) -> None:
    """The file opens inside optimizer.step(); an OSError there must not end the run."""
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    reference = nn.Linear(2, 2)
    reference.load_state_dict(model.state_dict())
    opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (model, reference)]
    before = global_hook_counts()
    t = Tracer(tmp_path / "sub" / "t.jsonl", model=model).start()
    (tmp_path / "sub").write_text("created after start(): the directory cannot be made")
    with pytest.warns(RuntimeWarning, match="cannot write the trace file .*tracing stopped at step 1"):
        for m, opt in zip((model, reference), opts):
            for _ in range(3):
                opt.zero_grad()
                m(torch.ones(1, 2)).sum().backward()
                opt.step()  # the traced run's first boundary tries to open the file
    t.step()  # a stopped tracer accepts calls and records nothing
    t.close()
    assert global_hook_counts() == before
    assert reprotorch.fingerprint(model) == reprotorch.fingerprint(reference)  # all 3 steps ran
    assert (tmp_path / "sub").read_text().startswith("created after start()")


def test_start_close_lifecycle(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    before = global_hook_counts()
    t = Tracer(tmp_path / "t.jsonl", model=model)
    with pytest.raises(RuntimeError, match="before start"):
        t.step()
    t.start()
    with pytest.raises(RuntimeError, match="already started"):
        t.start()
    assert global_hook_counts()[2:] == tuple(n + 1 for n in before[2:])  # optimizer hooks
    assert all(len(m._forward_hooks) == 1 for m in model.modules())
    assert not (tmp_path / "t.jsonl").exists()  # opened lazily, at the first event's flush
    model(torch.ones(2, 3))
    t.step()
    assert (tmp_path / "t.jsonl").exists() and t.path == tmp_path / "t.jsonl"
    t.close()
    t.close()  # idempotent
    assert global_hook_counts() == before
    assert all(len(m._forward_hooks) == 0 and len(m._forward_pre_hooks) == 0 for m in model.modules())
    with pytest.raises(RuntimeError, match="closed"):
        t.start()
    with pytest.raises(RuntimeError, match="after close"):
        t.loss(1.0)
    tr = load_trace(tmp_path / "t.jsonl")
    assert tr.complete and tr.completed_steps == 1
    assert tr.header["scope"] == "model" and tr.header["model"] == "Sequential"


def test_nothing_observed_writes_no_file(tmp_path: Path) -> None:
    with reprotorch.trace(path=tmp_path / "t.jsonl"):
        pass
    assert not (tmp_path / "t.jsonl").exists()


def test_context_manager_closes_on_error(tmp_path: Path) -> None:
    before = global_hook_counts()
    model = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="boom"):
        with reprotorch.trace(model, tmp_path / "t.jsonl") as t:
            model(torch.ones(1, 2))
            raise RuntimeError("boom")
    assert t.closed and global_hook_counts() == before
    assert load_trace(tmp_path / "t.jsonl").complete


def test_step_and_loss_without_optimizer(tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
    with reprotorch.trace(model, tmp_path / "t.jsonl", record=("outputs", "loss")) as t:
        for i in range(3):
            out = model(torch.full((2, 3), float(i)))
            t.loss(out.sum())
            t.loss(float(i))
            t.step()
        assert t.current_step == 3
    with pytest.raises(TypeError, match="tensor or a number"):
        t2 = Tracer(tmp_path / "u.jsonl").start()
        try:
            t2.loss("high")
        finally:
            t2.close()
    tr = load_trace(tmp_path / "t.jsonl")
    assert tr.num_steps == 3
    losses = [e for e in tr.events if e["phase"] == "loss"]
    assert [(e["step"], e["call"]) for e in losses] == [(s, c) for s in range(3) for c in range(2)]
    assert losses[3]["sum"] == 1.0 and losses[3]["dtype"] == "float64"
    fwd = [(e["module"], e["tensor"]) for e in tr.events if e["phase"] == "forward" and e["step"] == 0]
    assert fwd == [("0", "output"), ("1", "output"), ("", "output")]


def test_scalar_top_level_output_is_the_loss(tmp_path: Path) -> None:
    class WithLoss(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(2, 1)

        def forward(self, x: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
            pred = self.lin(x)
            return {"pred": pred, "loss_mse": ((pred - target) ** 2).mean()}

    model = WithLoss()
    with reprotorch.trace(model, tmp_path / "t.jsonl"):
        model(torch.ones(4, 2), target=torch.zeros(4, 1))
    tr = load_trace(tmp_path / "t.jsonl")
    keys = [(e["phase"], e["module"], e["tensor"]) for e in tr.events if e["phase"] != "rng"]
    assert keys == [
        ("data", "", "input.0"),
        ("data", "", "input.target"),  # keyword inputs count as the batch too
        ("forward", "lin", "output"),
        ("forward", "", "output.pred"),
        ("loss", "", "output.loss_mse"),
    ]


def test_global_mode_names_and_keyword_inputs(tmp_path: Path) -> None:
    class Inner(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return nn.Identity()(x) * 2  # a module created on the fly

    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = Inner()
            self.head = nn.Linear(3, 2)

        def forward(self, x: torch.Tensor, *, scale: torch.Tensor) -> torch.Tensor:
            return self.head(self.inner(x) * scale)

    model = Outer()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with reprotorch.trace(path=tmp_path / "t.jsonl") as t:
        loss = nn.MSELoss()(model(torch.ones(2, 3), scale=torch.tensor(3.0)), torch.zeros(2, 2))
        loss.backward()
        opt.step()
        t.step()  # a second boundary without optimizer
    tr = load_trace(tmp_path / "t.jsonl")
    assert tr.header["scope"] == "global" and tr.completed_steps == 2
    keys = [(e["phase"], e["module"], e["tensor"]) for e in tr.events if e["step"] == 0 and e["phase"] != "rng"]
    assert keys[:2] == [("data", "Outer", "input.0"), ("data", "Outer", "input.scale")]
    assert ("forward", "Outer.inner.<Identity>", "output") in keys
    assert ("forward", "Outer.inner", "output") in keys
    assert ("loss", "MSELoss", "output") in keys
    assert ("backward", "Outer.head", "weight") in keys
    assert ("optimizer", "Outer.head", "bias") in keys
    # data of a root comes before its module outputs
    assert keys.index(("data", "Outer", "input.scale")) < keys.index(("forward", "Outer.inner", "output"))


def test_unhashable_outputs_are_recorded_as_errors_not_raised(tmp_path: Path) -> None:
    class Sparse(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.to_sparse()

    model = nn.Sequential(nn.Linear(2, 2), Sparse())
    with reprotorch.trace(model, tmp_path / "t.jsonl"):
        out = model(torch.ones(1, 2))
        with torch.inference_mode():
            model[0](torch.ones(1, 2))  # inference tensors have no version counter
    assert out.is_sparse
    tr = load_trace(tmp_path / "t.jsonl")
    bad = [e for e in tr.events if e["module"] == "1"]
    assert bad[0]["fp"] is None and "sparse" in bad[0]["error"]
    assert [e["call"] for e in tr.events if e["module"] == "0"] == [0, 1]
    assert all(e["fp"] for e in tr.events if e["module"] == "0")


@pytest.mark.parametrize("env, expected", [
    ({"RANK": "1", "WORLD_SIZE": "2"}, "t.rank1.jsonl"),
    ({"RANK": "0", "WORLD_SIZE": "1"}, "t.jsonl"),
    ({}, "t.jsonl"),
])
def test_rank_suffix_decided_at_first_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            env: dict[str, str], expected: str) -> None:
    model = nn.Linear(2, 2)
    t = Tracer(tmp_path / "t.jsonl", model=model).start()
    for k, v in env.items():  # set after start(), as torchrun's env is read lazily
        monkeypatch.setenv(k, v)
    model(torch.ones(1, 2))
    t.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [expected]
    tr = load_trace(tmp_path / expected)
    assert tr.header["rank"] == int(env.get("RANK", 0))
    assert tr.header["world_size"] == int(env.get("WORLD_SIZE", 1))
    assert reprotorch.tracing.find_rank_traces(tmp_path / "t.jsonl") == [tmp_path / expected]


def test_trace_path_for_rank() -> None:
    from reprotorch.tracing import trace_path_for_rank

    assert trace_path_for_rank("out/t.jsonl", 3) == Path("out/t.rank3.jsonl")
    assert trace_path_for_rank("out/t", 0) == Path("out/t.rank0")
    assert trace_path_for_rank("a.b/t.x.jsonl", 1) == Path("a.b/t.x.rank1.jsonl")
    assert trace_path_for_rank("t.jsonl", None) == Path("t.jsonl")


def test_rank_files_are_found_in_rank_order_by_the_tracer_and_the_launcher(tmp_path: Path) -> None:
    from reprotorch.launch.reports import trace_files
    from reprotorch.tracing import find_rank_traces

    for name in ("t.rank10.jsonl", "t.rank2.jsonl", "t.rank0.jsonl", "tx.rank1.jsonl", "t.rank1.jsonl.bak"):
        (tmp_path / name).write_text("")
    (tmp_path / "t.rank3.jsonl").mkdir()  # not a file
    path = tmp_path / "t.jsonl"
    assert [p.name for p in find_rank_traces(path)] == ["t.rank0.jsonl", "t.rank2.jsonl", "t.rank10.jsonl"]
    assert list(trace_files(path)) == ["rank0", "rank2", "rank10"]
    path.write_text("")
    assert find_rank_traces(path) == [path]
    assert trace_files(path) == {"": str(path), **{f"rank{r}": str(tmp_path / f"t.rank{r}.jsonl") for r in (0, 2, 10)}}


@pytest.mark.parametrize("workers", [0, 2])
def test_dataloader_workers_never_write(tmp_path: Path, workers: int) -> None:
    model = nn.Linear(3, 1)
    loader = torch.utils.data.DataLoader(JitterDataset(), batch_size=4, num_workers=workers)
    with reprotorch.trace(path=tmp_path / "t.jsonl", record=("outputs",)) as t:
        for batch in loader:
            model(batch)
            t.step()
    tr = load_trace(tmp_path / "t.jsonl")
    jitter = [e for e in tr.events if e["module"] == "Jitter"]
    assert len(jitter) == (8 if workers == 0 else 0)
    assert [e["step"] for e in tr.events if e["module"] == "Linear"] == [0, 1]
    assert tr.completed_steps == 2
    assert len({e["fp"] for e in tr.events if e["module"] == "Linear"}) == 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_cannot_touch_the_trace(tmp_path: Path) -> None:
    model = nn.Linear(2, 2)
    t = Tracer(tmp_path / "t.jsonl", model=model).start()
    model(torch.ones(1, 2))
    t.step()
    model(torch.ones(1, 2) * 2)  # pending, not yet flushed, when the fork happens
    pid = os.fork()
    if pid == 0:  # child: everything it does must be invisible in the file
        code = 0
        try:
            model(torch.ones(1, 2) * 3)
            t.step()
            t.close()
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    model(torch.ones(1, 2) * 4)
    t.close()
    tr = load_trace(tmp_path / "t.jsonl")
    assert tr.completed_steps == 1 and tr.complete
    assert [e["call"] for e in tr.events if e["step"] == 1 and e["phase"] == "data"] == [0, 1]
    sums = [e["sum"] for e in tr.events if e["phase"] == "data"]
    assert sums == [2.0, 4.0, 8.0]  # inputs 1, 2, 4 -- never the child's 3
    assert len([m for m in tr.marks if m["mark"] == "end"]) == 1


def test_file_is_flushed_at_every_step(tmp_path: Path) -> None:
    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "t.jsonl"
    with reprotorch.trace(model, path):
        for i in range(3):
            model(torch.ones(1, 2)).sum().backward()
            opt.step()
            # readable by another process right now: every line so far is complete
            raw = path.read_bytes()
            assert raw.endswith(b"\n")
            lines = [json.loads(x) for x in raw.splitlines()]
            assert sum(1 for x in lines if x.get("mark") == "step") == i + 1


def test_grads_as_the_optimizer_sees_them_and_rng_right_after_the_boundary(tmp_path: Path) -> None:
    """Gradients are recorded just before optimizer.step() (after clipping), parameters
    just after it, and the next step's RNG snapshot right at the boundary."""
    from reprotorch.tracing.rng import rng_fingerprints

    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with reprotorch.trace(model, tmp_path / "t.jsonl") as t:
        assert t.first_step == 0
        model(torch.randn(4, 3)).pow(2).sum().backward()
        raw_grad = reprotorch.fingerprint(model.weight.grad)
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1e-3)
        clipped_grad = reprotorch.fingerprint(model.weight.grad)
        opt.step()
        rng_at_boundary = rng_fingerprints()
        after_step = reprotorch.fingerprint(model.weight)
        torch.rand(5)  # drawn after the boundary: not part of step 1's starting state
    tr = load_trace(tmp_path / "t.jsonl")

    def fp(step: int, phase: str, tensor: str) -> str:
        (event,) = [e for e in tr.events if (e["step"], e["phase"], e["tensor"]) == (step, phase, tensor)]
        return str(event["fp"])

    assert clipped_grad != raw_grad
    assert fp(0, "backward", "weight") == clipped_grad
    assert fp(0, "optimizer", "weight") == after_step
    assert fp(1, "rng", "torch") == rng_at_boundary["torch"]
    assert tr.end_mark is not None and tr.end_mark["rng"]["torch"] != rng_at_boundary["torch"]
