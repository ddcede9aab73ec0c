"""Where benchmark scripts put their figures: a JSON report and its Markdown rendering side by side."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path


def write_report(report: dict, output: Path, markdown: Callable[[dict], str]) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    output.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {output} and {output.with_suffix('.md')}")
