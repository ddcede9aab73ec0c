"""docs/benchmarks.md's tables, generated from benchmarks/results/*.json (never typed).

Each benchmark script `benchmarks/NAME.py` writes `results/NAME.json` and renders it with its own
`markdown(report)` as `results/NAME.md`. This script renders every `results/*.json` with that same function and
puts the result, without its `# ` title, between

    <!-- benchmark:NAME:start -->
    <!-- benchmark:NAME:end -->

in docs/benchmarks.md; a result without such a block gets one, under a `## NAME` heading, at the end.

    python benchmarks/docs_tables.py            # rewrite the blocks
    python benchmarks/docs_tables.py --check    # exit 1 if a block is not the generated one

A result written by an older version of its script (a key the script's `markdown` now needs is missing) stops
it with one line per such file, before anything is written: rerun that benchmark.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
RESULTS = BENCHMARKS / "results"
DOC = BENCHMARKS.parent / "docs" / "benchmarks.md"


class StaleResult(Exception):
    """A results file its benchmark script can no longer render."""


def markers(name: str) -> tuple[str, str]:
    return f"<!-- benchmark:{name}:start -->", f"<!-- benchmark:{name}:end -->"


def rendered(name: str, report: dict) -> str:
    """`benchmarks/NAME.py`'s Markdown for `report`, without its title line."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))  # the scripts import their neighbours (results_io) as top-level modules
    try:
        text = importlib.import_module(name).markdown(report)
    except (KeyError, TypeError, IndexError) as error:
        raise StaleResult(
            f"benchmarks/results/{name}.json: benchmarks/{name}.py cannot render it ({type(error).__name__}: {error}); "
            f"rerun python benchmarks/{name}.py"
        ) from None
    lines = text.strip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(lines).strip()


def generated_tables(results: Path = RESULTS) -> dict[str, str]:
    """NAME -> the rendered Markdown of results/NAME.json, for every results file; StaleResult names every file
    that cannot be rendered."""
    tables, stale = {}, []
    for path in sorted(results.glob("*.json")):
        try:
            tables[path.stem] = rendered(path.stem, json.loads(path.read_text()))
        except StaleResult as error:
            stale.append(str(error))
    if stale:
        raise StaleResult("\n".join(stale))
    return tables


def with_tables(text: str, tables: dict[str, str]) -> str:
    """`text` with every result's block replaced by its table; blocks for new results appended."""
    for name, table in tables.items():
        start, end = markers(name)
        block = f"{start}\n{table}\n{end}"
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
        if pattern.search(text):
            text = pattern.sub(lambda _, block=block: block, text)
        else:
            text = text.rstrip("\n") + f"\n\n## {name}\n\n{block}\n"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that docs/benchmarks.md is up to date")
    args = parser.parse_args(argv)
    try:
        tables = generated_tables()
    except StaleResult as error:
        print(error, file=sys.stderr)
        return 1
    current = DOC.read_text()
    updated = with_tables(current, tables)
    if args.check:
        if updated != current:
            print(f"{DOC.relative_to(BENCHMARKS.parent)}: tables out of date; run python benchmarks/docs_tables.py")
            return 1
        return 0
    if updated != current:
        DOC.write_text(updated)
        print(f"wrote {len(tables)} tables into {DOC.relative_to(BENCHMARKS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
