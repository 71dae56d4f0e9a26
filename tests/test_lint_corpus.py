"""Precision and recall of ``reprotorch lint`` on the annotated corpus in tests/lint_corpus.

Each snippet marks the lines where a finding is expected with a trailing
``# expect: RPT###`` comment. A finding matches when file, line and code agree;
every other finding is a false positive, every unmatched annotation a false
negative. Targets from issue 7: precision >= 0.95, recall >= 0.9.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from reprotorch.lint import check_paths

CORPUS = Path(__file__).parent / "lint_corpus"
_EXPECT = re.compile(r"#\s*expect:\s*(RPT\d{3}(?:\s*,\s*RPT\d{3})*)")


def expected_findings() -> set[tuple[str, int, str]]:
    out = set()
    for path in sorted(CORPUS.glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            m = _EXPECT.search(line)
            if m:
                for code in re.split(r"\s*,\s*", m.group(1)):
                    out.add((path.name, number, code))
    return out


def test_corpus_precision_and_recall(capsys) -> None:  # type: ignore[no-untyped-def]
    snippets = sorted(CORPUS.glob("*.py"))
    assert len(snippets) >= 30
    expected = expected_findings()
    result = check_paths([CORPUS], config=False)
    assert result.files_checked == len(snippets)
    got = {(Path(f.path).name, f.line, f.code) for f in result}
    tp, fp, fn = expected & got, got - expected, expected - got
    precision = len(tp) / len(got) if got else 1.0
    recall = len(tp) / len(expected)
    per_rule = Counter(code for _, _, code in expected)
    with capsys.disabled():
        print(f"\nlint corpus: {len(snippets)} snippets, {len(expected)} expected findings "
              f"({', '.join(f'{c}: {n}' for c, n in sorted(per_rule.items()))})")
        print(f"lint corpus: TP={len(tp)} FP={len(fp)} FN={len(fn)} "
              f"precision={precision:.3f} recall={recall:.3f}")
        for item in sorted(fp):
            print("  false positive:", item)
        for item in sorted(fn):
            print("  false negative:", item)
    assert precision >= 0.95
    assert recall >= 0.9
    assert set(per_rule) == {f"RPT{i:03d}" for i in range(1, 13)}  # every rule is exercised


def test_corpus_snippets_are_valid_python_and_annotated_sparingly() -> None:
    """The corpus must contain clean code too: look-alikes that must not be flagged."""
    clean_files = 0
    for path in sorted(CORPUS.glob("*.py")):
        compile(path.read_text(), str(path), "exec")
        if "# expect:" not in path.read_text():
            clean_files += 1
    assert clean_files >= 3
