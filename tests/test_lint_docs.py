"""The README's lint section stays true: every rule documented as the catalogue says, the example runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reprotorch.lint import RULES

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Linting training code: `reprotorch lint`"


@pytest.fixture(scope="module")
def doc() -> str:
    text = README.read_text()
    assert SECTION in text
    return text.split(SECTION, 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("code", sorted(RULES))
def test_every_rule_is_documented_with_its_examples(doc: str, code: str) -> None:
    rule = RULES[code]
    assert f"#### `{code}` {rule.name} ({rule.severity})" in doc
    assert f"| `{code}` | {rule.name} | {rule.severity} |" in doc
    assert "```python\n" + rule.wrong + "\n```" in doc
    assert "```python\n" + rule.right + "\n```" in doc


def test_python_api_example_runs(doc: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    section = doc.split("### Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "data.py").write_text("import os\nfirst = os.listdir('d')[0]\n")
    (tmp_path / "train.py").write_text("import torch\ntorch.backends.cudnn.benchmark = True\n")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("snippet.py:3:7: RPT004 np.random.default_rng() without a seed")
    assert out[-1] == "2 ['RPT002', 'RPT003']"


def test_console_example_is_real_output(doc: str) -> None:
    from reprotorch.lint import check_source
    from reprotorch.lint.report import render

    before_console = doc.split("$ reprotorch lint train.py\n", 1)[0]
    script = re.findall(r"```python\n(.*?)```", before_console, re.S)[-1]
    # The block is train.py exactly as a reader would save it, so the line numbers must match.
    console = re.search(r"\$ reprotorch lint train.py\n(.*?)\$ echo", doc, re.S).group(1)  # type: ignore[union-attr]
    assert render("text", check_source(script, "train.py"), 1) == console
