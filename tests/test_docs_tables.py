"""benchmarks/docs_tables.py: docs/benchmarks.md's tables are generated from benchmarks/results/*.json by each
benchmark script's own `markdown`, and the committed page holds exactly the generated tables."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def docs_tables(load_script):
    return load_script("benchmarks/docs_tables.py")


@pytest.fixture
def fake_benchmark(tmp_path, monkeypatch):
    """A benchmark script `fakebench.py` (importable) and a results folder with its JSON."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "fakebench.py").write_text(
        "def markdown(report):\n"
        "    rows = [f\"| {name} | {value:.1f} |\" for name, value in report['rows'].items()]\n"
        "    return '\\n'.join(['# Fake benchmark', '', '| run | ms |', '|---|---|', *rows, ''])\n"
    )
    monkeypatch.syspath_prepend(str(scripts))
    results = tmp_path / "results"
    results.mkdir()
    (results / "fakebench.json").write_text(json.dumps({"rows": {"one": 1.25, "two": 20.0}}))
    yield results
    sys.modules.pop("fakebench", None)


def test_a_table_is_the_scripts_markdown_without_its_title(docs_tables, fake_benchmark):
    assert docs_tables.generated_tables(fake_benchmark) == {
        "fakebench": "| run | ms |\n|---|---|\n| one | 1.2 |\n| two | 20.0 |"
    }


def test_blocks_are_replaced_and_missing_ones_appended(docs_tables, fake_benchmark):
    tables = docs_tables.generated_tables(fake_benchmark)
    start, end = docs_tables.markers("fakebench")
    page = f"# Benchmarks\n\nIntro.\n\n{start}\n| old | table |\n{end}\n\nAfter.\n"
    updated = docs_tables.with_tables(page, tables)
    assert updated == f"# Benchmarks\n\nIntro.\n\n{start}\n{tables['fakebench']}\n{end}\n\nAfter.\n"
    assert docs_tables.with_tables(updated, tables) == updated
    appended = docs_tables.with_tables("# Benchmarks\n", tables)
    assert appended == f"# Benchmarks\n\n## fakebench\n\n{start}\n{tables['fakebench']}\n{end}\n"


def test_a_result_its_script_cannot_render_is_named(docs_tables, fake_benchmark):
    (fake_benchmark / "fakebench.json").write_text(json.dumps({"runs": {}}))  # an older format: no "rows"
    with pytest.raises(
        docs_tables.StaleResult, match=r"fakebench\.json: .*KeyError.*rerun python benchmarks/fakebench\.py"
    ):
        docs_tables.generated_tables(fake_benchmark)


@pytest.mark.slow  # imports every benchmark script (torch, transformers, gradio...) in a fresh interpreter
def test_the_committed_page_holds_the_generated_tables():
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "docs_tables.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
