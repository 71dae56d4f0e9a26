"""``reprotorch env``: the reproducibility manifest of this machine and process.

The table is for people ("which cuDNN is this? is PYTHONHASHSEED set?");
``--json`` prints the manifest document itself, the same format
``reprotorch run --manifest`` writes and ``reprotorch diff`` compares.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any

# Shown even when unset: the variables whose absence is itself the finding.
ALWAYS_SHOWN = ("PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG", "CUDA_VISIBLE_DEVICES")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``reprotorch env``."""
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")


def _v(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def render(doc: dict[str, Any]) -> str:
    """A manifest as an aligned two-column table, section by section."""
    rows: list[tuple[str, str]] = []

    def section(title: str) -> None:
        rows.append(("", ""))
        rows.append((f"[{title}]", ""))

    py = doc["python"]
    section("python")
    rows += [
        ("python", f"{py['version']} ({py['implementation']})"),
        ("executable", py["executable"]),
        ("PYTHONHASHSEED at start-up", _v(py["hashseed_at_startup"]) + ("" if py["hashseed_at_startup"] else
                                         "  (unset: set/dict order of strings changes per run)")),
    ]
    t = doc["torch"]
    section("torch")
    rows.append(("torch", _v(t.get("version"))))
    for key in ("cuda", "cudnn", "nccl", "hip", "git_version", "mkl", "mkldnn", "openmp", "debug"):
        if key in t:
            rows.append((key, _v(t[key])))
    rows.append(("numpy", _v(doc["numpy"]["version"])))
    devices = doc.get("devices")
    section("devices")
    if devices is None:
        rows.append(("devices", "(torch not imported)"))
    else:
        rows.append(("CUDA devices", f"{devices['cuda_count']}" if devices["cuda_available"] else "0 (CUDA not available)"))
        for i, d in enumerate(devices.get("cuda") or []):
            rows.append((f"cuda:{i}", f"{d['name']} (compute capability {d['capability']}, {d['memory_mib']} MiB)"))
        rows.append(("MPS", _v(devices["mps_available"])))
        rows.append(("XPU devices", _v(devices["xpu_count"])))
    th = doc["threads"]
    section("threads")
    rows += [
        ("torch intra-op threads", _v(th.get("torch_intra_op"))),
        ("torch inter-op threads", _v(th.get("torch_inter_op"))),
        ("CPUs (usable)", f"{_v(th.get('cpu_count'))} ({_v(th.get('cpus_usable'))})"),
    ]
    section("determinism")
    det = doc.get("determinism")
    if det is None:
        rows.append(("controls", "(torch not imported)"))
    else:
        rows += [(k, _v(v)) for k, v in det.items()]
    rows.append(("seed (REPROTORCH_SEED / seed_everything)", _v(doc.get("seed"))))
    section("environment")
    env = doc.get("environment", {})
    for key in ALWAYS_SHOWN:
        rows.append((key, env.get(key, "(unset)")))
    rows += [(k, v) for k, v in env.items() if k not in ALWAYS_SHOWN]
    section("git")
    git = doc.get("git")
    if git is None:
        rows.append(("working directory", "not in a git work tree"))
    else:
        rows += [
            ("root", _v(git["root"])),
            ("commit", f"{_v(git['commit'])} ({_v(git['branch'])})"),
            ("dirty", f"{_v(git['dirty'])} ({git['modified_files']} modified, {git['untracked_files']} untracked)"),
            ("uncommitted changes", _v(git["diff_hash"])),
        ]
    dists = doc["distributions"]
    section("distributions")
    rows.append(("installed", f"{dists['count']} (hash {dists['hash']})"))
    width = max(len(k) for k, _ in rows)
    lines = []
    for key, value in rows:
        lines.append(f"{key.ljust(width)}  {value}".rstrip() if key or value else "")
    listing = textwrap.fill(", ".join(dists["list"]), width=100, initial_indent="  ", subsequent_indent="  ",
                            break_on_hyphens=False, break_long_words=False)
    return "\n".join(lines).strip("\n") + "\n" + listing


def run(args: argparse.Namespace) -> int:
    """Print the manifest of this process."""
    from ..manifest import manifest

    doc = manifest()
    if args.json:
        print(json.dumps(doc, indent=1, allow_nan=False))
    else:
        print(render(doc))
    return 0
