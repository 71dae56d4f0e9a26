"""The Python API of reprotorch.lint: noqa, selection, configuration, discovery, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reprotorch.lint import Finding, LintConfig, check_paths, check_source, load_config
from reprotorch.lint.config import parse_table_minimal
from reprotorch.lint.paths import is_excluded

HAZARD = "import os\nfor f in os.listdir('d'):\n    go(f)\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# ---------------------------------------------------------------- noqa
@pytest.mark.parametrize(
    ("comment", "suppressed"),
    [
        ("# noqa: RPT002", True),
        ("# noqa:RPT002", True),
        ("# NOQA: rpt002", True),
        ("# noqa: RPT001, RPT002", True),
        ("# noqa: RPT001 RPT002", True),
        ("# noqa", True),
        ("# noqa: RPT001", False),
        ("# noqa: E501", False),
        ("# no qa", False),
    ],
)
def test_noqa(comment: str, suppressed: bool) -> None:
    src = f"import os\nfor f in os.listdir('d'):  {comment}\n    go(f)\n"
    assert (check_source(src) == []) is suppressed


def test_noqa_on_the_last_line_of_a_multiline_statement() -> None:
    src = ("from torch.utils.data import DataLoader\n"
           "loader = DataLoader(\n    ds, shuffle=True,\n)  # noqa: RPT010\n")
    assert check_source(src) == []
    assert [f.code for f in check_source(src.replace("  # noqa: RPT010", ""))] == ["RPT010"]


def test_noqa_only_affects_its_own_line() -> None:
    src = "import os\nx = os.listdir('a')[0]  # noqa: RPT002\ny = os.listdir('b')[0]\n"
    assert [(f.line, f.code) for f in check_source(src)] == [(3, "RPT002")]


# ---------------------------------------------------------------- selection
def test_select_and_ignore_with_prefixes() -> None:
    src = HAZARD + "import torch\ntorch.backends.cudnn.benchmark = True\n"
    assert {f.code for f in check_source(src)} == {"RPT002", "RPT003"}
    assert {f.code for f in check_source(src, select=["RPT003"])} == {"RPT003"}
    assert {f.code for f in check_source(src, select=["rpt00"])} == {"RPT002", "RPT003"}
    assert {f.code for f in check_source(src, ignore=["RPT002"])} == {"RPT003"}
    assert {f.code for f in check_source(src, select=["ALL"], ignore=["RPT0"])} == set()


def test_syntax_errors_are_reported_whatever_the_selection() -> None:
    assert [f.code for f in check_source("def (:\n", select=["RPT003"])] == ["RPT000"]


@pytest.mark.parametrize(
    ("kwargs", "exc", "words"),
    [
        ({"select": ["RPT999"]}, ValueError, "unknown rule code 'RPT999'"),
        ({"ignore": ["XYZ"]}, ValueError, "unknown rule code 'XYZ'"),
        ({"select": "RPT001"}, TypeError, "list of rule codes"),
        ({"ignore": [1]}, TypeError, "as strings"),
    ],
)
def test_bad_codes_are_rejected(kwargs: dict, exc: type, words: str) -> None:
    with pytest.raises(exc, match=words):
        check_source("x = 1\n", **kwargs)


def test_check_source_rejects_bytes() -> None:
    with pytest.raises(TypeError, match="source as str, got bytes"):
        check_source(b"x = 1\n")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="filename must be a str"):
        check_source("x = 1\n", filename=Path("a.py"))  # type: ignore[arg-type]


# ---------------------------------------------------------------- findings
def test_findings_are_sorted_with_character_columns_and_serialise() -> None:
    src = "import os\nb = os.listdir('b')[0]\ns = 'é'; a = os.listdir('a')[0]\n"
    found = check_source(src, "m.py")
    assert [(f.line, f.col) for f in found] == [(2, 5), (3, 14)]
    assert found == sorted(found)
    record = found[1].to_dict()
    assert record == json.loads(json.dumps(record))
    assert set(record) == {"path", "line", "col", "end_line", "code", "severity", "message", "fix"}
    assert str(found[0]).startswith("m.py:2:5: RPT002 ")


def test_code_is_parsed_never_run() -> None:
    src = ("import this_package_does_not_exist\nraise SystemExit(3)\n"
           "import os\nfirst = os.listdir('.')[0]\n")
    assert [f.code for f in check_source(src)] == ["RPT002"]


def test_deep_or_odd_sources_give_rpt000_not_a_crash() -> None:
    assert [f.code for f in check_source("x = " + "-" * 5000 + "1\n")] == ["RPT000"]
    assert [f.code for f in check_source("x = 1\x00\n")] == ["RPT000"]
    assert check_source("x = " + "+".join(["a"] * 2000) + "\n") == []
    assert check_source("") == []


# ---------------------------------------------------------------- paths
def test_syntax_error_in_one_file_and_the_rest_continue(tmp_path: Path) -> None:
    write(tmp_path / "a_bad.py", "def broken(:\n    pass\n")
    write(tmp_path / "b_good.py", HAZARD)
    write(tmp_path / "notes.txt", "for f in os.listdir('d'): pass\n")
    result = check_paths([tmp_path], config=False)
    assert [(Path(f.path).name, f.code, f.line) for f in result] == [
        ("a_bad.py", "RPT000", 1), ("b_good.py", "RPT002", 2)]
    assert result.files_checked == 2


def test_encodings_are_honoured(tmp_path: Path) -> None:
    src = "# -*- coding: latin-1 -*-\nimport os\nname = 'caf\xe9'; x = os.listdir(name)[0]\n"
    (tmp_path / "latin.py").write_bytes(src.encode("latin-1"))
    (tmp_path / "bad.py").write_bytes(b"x = '\xff\xfe'\n")
    found = check_paths([tmp_path], config=False)
    assert [(Path(f.path).name, f.code) for f in found] == [("bad.py", "RPT000"),
                                                            ("latin.py", "RPT002")]
    assert found[1].col == 20


def test_missing_path_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file or directory"):
        check_paths([tmp_path / "nope"])
    with pytest.raises(ValueError, match="no paths"):
        check_paths([])
    with pytest.raises(TypeError, match="paths must be str or os.PathLike"):
        check_paths([3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="config must be"):
        check_paths([tmp_path], config=3)  # type: ignore[arg-type]


def test_default_excludes_when_walking(tmp_path: Path) -> None:
    for folder in (".venv/lib", "build", "pkg/__pycache__", "x.egg-info", "pkg"):
        write(tmp_path / folder / "m.py", HAZARD)
    found = check_paths([tmp_path], config=False)
    assert [Path(f.path).relative_to(tmp_path).as_posix() for f in found] == ["pkg/m.py"]


def test_explicit_file_is_always_checked(tmp_path: Path) -> None:
    path = write(tmp_path / "build" / "gen.py", HAZARD)
    assert [f.code for f in check_paths(path, config=False)] == ["RPT002"]


@pytest.mark.parametrize(
    ("rel", "patterns", "excluded"),
    [
        ("tests/lint_corpus/a.py", ["tests/lint_corpus"], True),
        ("tests/lint_corpus/a.py", ["lint_corpus"], True),
        ("src/pkg/generated/x.py", ["src/*/generated"], True),
        ("src/pkg/x_pb2.py", ["*_pb2.py"], True),
        ("src/pkg/x.py", ["tests", "*_pb2.py", "pkg/x.py"], False),
        ("pkg/x.py", ["./pkg/"], True),
    ],
)
def test_exclude_patterns(rel: str, patterns: list[str], excluded: bool) -> None:
    assert is_excluded(rel, patterns) is excluded


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git executable")
def test_gitignore_is_honoured_in_a_git_repository(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    write(tmp_path / ".gitignore", "generated/\n*_ignored.py\n")
    write(tmp_path / "tracked.py", HAZARD)
    write(tmp_path / "untracked.py", HAZARD)
    write(tmp_path / "generated" / "g.py", HAZARD)
    write(tmp_path / "sub" / "x_ignored.py", HAZARD)
    deleted = write(tmp_path / "deleted.py", HAZARD)
    git("add", "tracked.py", "deleted.py")
    deleted.unlink()
    found = check_paths([tmp_path], config=False)
    assert sorted(Path(f.path).name for f in found) == ["tracked.py", "untracked.py"]
    assert found.files_checked == 2
    # a sub-folder of the repository, and an explicitly named ignored file
    assert [Path(f.path).name for f in check_paths([tmp_path / "sub"], config=False)] == []
    explicit = check_paths([tmp_path / "sub" / "x_ignored.py"], config=False)
    assert [Path(f.path).name for f in explicit] == ["x_ignored.py"]


# ---------------------------------------------------------------- configuration
PYPROJECT = """\
[project]
name = "demo"

[tool.reprotorch.lint]
# informational notes are reviewed separately
ignore = ["RPT012"]
select = [
    "RPT00",  # the first nine rules
    "RPT012",
]
exclude = ['legacy', "scripts/*_old.py"]
"""


def test_pyproject_configuration(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", PYPROJECT)
    write(tmp_path / "src" / "a.py", HAZARD + "import torch\ny = torch.histc(x)\n"
          "from torch.utils.data import DataLoader\nl = DataLoader(ds, shuffle=True)\n")
    write(tmp_path / "legacy" / "b.py", HAZARD)
    write(tmp_path / "scripts" / "run_old.py", HAZARD)
    write(tmp_path / "scripts" / "run.py", HAZARD)
    found = check_paths([tmp_path])  # finds the pyproject above the path
    assert sorted((Path(f.path).name, f.code) for f in found) == [
        ("a.py", "RPT002"), ("run.py", "RPT002")]
    # select replaces, ignore extends
    found = check_paths([tmp_path / "src"], select=["RPT010"])
    assert [f.code for f in found] == ["RPT010"]
    found = check_paths([tmp_path / "src"], ignore=["RPT002"])
    assert [f.code for f in found] == []
    # config=False ignores the file
    assert {f.code for f in check_paths([tmp_path / "src"], config=False)} == {
        "RPT002", "RPT010", "RPT012"}


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ('selct = ["RPT001"]', "unknown key"),
        ('select = ["RPT404"]', "unknown rule code 'RPT404'"),
        ('select = "RPT001"', "must be an array of strings"),
        ("exclude = [1]", "must contain strings"),
    ],
)
def test_bad_configuration_is_a_clear_error(tmp_path: Path, table: str, words: str) -> None:
    path = write(tmp_path / "pyproject.toml", f"[tool.reprotorch.lint]\n{table}\n")
    with pytest.raises(ValueError, match=words) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_invalid_toml_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path / "pyproject.toml", "[tool.reprotorch.lint\nselect = [\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(path)


def test_pyproject_without_the_table_gives_defaults(tmp_path: Path) -> None:
    path = write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    cfg = load_config(path)
    assert cfg.source == path and cfg.base == tmp_path.resolve()
    assert cfg.enabled == LintConfig().enabled


@pytest.mark.parametrize(
    "text",
    [
        PYPROJECT,
        "[tool.reprotorch.lint]\nselect = ['RPT001', 'RPT002',]  # trailing comma\n",
        '[tool.reprotorch.lint]\nexclude = ["a#b", \'C:\\\\x\\\\y\']\n[tool.other]\nx = 1\n',
        '[tool.ruff]\nline-length = 100\n',
        '[tool."reprotorch".lint]\nignore = []\n',
    ],
)
def test_python310_reader_agrees_with_tomllib(text: str) -> None:
    tomllib = pytest.importorskip("tomllib")
    expected = tomllib.loads(text).get("tool", {}).get("reprotorch", {}).get("lint")
    assert parse_table_minimal(text) == expected


def test_python310_reader_rejects_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="cannot read"):
        parse_table_minimal("[tool.reprotorch.lint]\nselect = { a = 1 }\n")
    with pytest.raises(ValueError, match="cannot read"):
        parse_table_minimal("[tool.reprotorch.lint]\njust text\n")


def test_lint_imports_only_the_standard_library() -> None:
    """The lint package adds nothing but stdlib modules to what ``import reprotorch`` loads."""
    code = textwrap.dedent("""
        import sys
        import reprotorch
        before = set(sys.modules)
        import reprotorch.lint, reprotorch.lint.api, reprotorch.lint.report
        import reprotorch.cli.lint_cmd
        reprotorch.lint.check_source("import torch\\nimport numpy as np\\n")
        new = {m.split('.')[0] for m in set(sys.modules) - before}
        print(sorted(m for m in new if m not in sys.stdlib_module_names and m != 'reprotorch'))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_lint_runs_when_torch_and_numpy_cannot_be_imported(tmp_path: Path) -> None:
    target = write(tmp_path / "train.py", HAZARD)
    code = textwrap.dedent(f"""
        import sys
        class Broken:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('torch', 'numpy'):
                    raise ImportError('broken environment: ' + name)
        sys.meta_path.insert(0, Broken())
        from reprotorch.cli import main
        sys.exit(main(['lint', '--isolated', {str(target)!r}]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 1, out.stderr
    assert "RPT002" in out.stdout


def test_finding_is_immutable_and_ordered() -> None:
    a = Finding("a.py", 1, 1, "RPT001", "m", "f", "warning")
    b = Finding("a.py", 1, 2, "RPT001", "m", "f", "warning")
    assert sorted([b, a]) == [a, b]
    with pytest.raises(AttributeError):
        a.line = 3  # type: ignore[misc]
