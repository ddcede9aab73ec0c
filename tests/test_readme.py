"""The README works as written: its Python blocks run verbatim from the repo root, its shell lines are real
commands (make targets, fer-hub subcommands with options they accept), its links lead somewhere, and it stays a
five-minute read (at most 10 KB). The `fer-hub` lines of docs/*.md are checked against the parser too."""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from fer_hub.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MAX_README_BYTES = 10 * 1024
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
SHELL_OPERATORS = {">", ">>", "2>", "<", "|", "&&", "||", ";"}  # where a fer-hub command's own arguments end
SHELL_STARTS = ("make ", "source .venv/bin/activate", "fer-hub ")  # what the README's bash blocks may run


def blocks(path: Path, language: str) -> list[str]:
    return [code for lang, code in FENCE.findall(path.read_text()) if lang == language]


def shell_lines(path: Path) -> list[str]:
    """The commands of a file's bash blocks: continuation lines joined, comments and blank lines left out."""
    lines = []
    for code in blocks(path, "bash"):
        for line in code.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def fer_hub_arguments(line: str) -> list[str]:
    """`fer-hub predict x.jpg --csv - > out.csv  # note` -> ['predict', 'x.jpg', '--csv', '-']."""
    words = shlex.split(line, comments=True)
    ends = [index for index, word in enumerate(words) if word in SHELL_OPERATORS]
    return words[1 : ends[0] if ends else None]


def repo_view(tmp_path: Path) -> Path:
    """A folder that looks like the repo root (a link to each of its entries) with `../shared` beside it when the
    checkout has one, so README code writes its files (runs/...) into tmp_path, not into the checkout."""
    view = tmp_path / "repo"
    view.mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name not in ("runs", ".git"):
            (view / entry.name).symlink_to(entry)
    if (ROOT.parent / "shared").is_dir():
        (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    return view


def run_in_repo_view(command: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        command,
        cwd=repo_view(tmp_path),
        capture_output=True,
        text=True,
        timeout=900,
        env=environment,
        stdin=subprocess.DEVNULL,
    )


def test_readme_is_at_most_10_kb():
    assert README.stat().st_size <= MAX_README_BYTES, f"README.md is {README.stat().st_size} bytes"


def test_readme_shell_lines_are_make_targets_or_fer_hub_commands():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    lines = shell_lines(README)
    assert any(line.startswith("make demo") for line in lines) and any(line.startswith("make test") for line in lines)
    for line in lines:
        assert line.startswith(SHELL_STARTS), f"README runs something other than make / fer-hub: {line}"
        if line.startswith("make "):
            assert shlex.split(line, comments=True)[1] in targets, line


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda path: path.name)
def test_fer_hub_lines_parse_with_the_cli(path):
    parser = build_parser()
    lines = [line for line in shell_lines(path) if line.startswith("fer-hub ")]
    for line in lines:
        try:
            parser.parse_args(fer_hub_arguments(line))
        except SystemExit:
            pytest.fail(f"{path.name}: `{line}` is not a valid fer-hub command")


def test_commands_the_readme_names_are_subcommands():
    subcommands = set(
        next(action.choices for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    )
    named = set(re.findall(r"`fer-hub ([a-z][a-z-]*)", README.read_text()))
    assert named, "the README names no fer-hub command"
    assert named <= subcommands, f"not fer-hub subcommands: {sorted(named - subcommands)}"
    assert {"predict", "demo", "train", "evaluate", "push", "push-space"} <= named


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda path: path.name)
def test_relative_links_lead_to_files_and_headings(path):
    text = FENCE.sub("", path.read_text())
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+://", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        assert linked.exists(), f"{path.name}: link to a missing file: {target}"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", FENCE.sub("", linked.read_text()), re.MULTILINE)
            assert anchor in {github_anchor(heading) for heading in headings}, f"{path.name}: no heading for {target}"


def expected_outputs(code: str) -> list[str]:
    """What the block's comments promise it prints: the Python literal after `print(...)  # `."""
    promised = []
    for line in code.splitlines():
        statement, _, comment = line.partition("  # ")
        if statement.startswith("print(") and comment:
            with contextlib.suppress(ValueError, SyntaxError):  # a comment in words promises nothing checkable
                promised.append(str(ast.literal_eval(comment.strip())))
    return promised


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(blocks(README, "python"))))
def test_readme_python_block_runs_verbatim(index, tmp_path):
    code = blocks(README, "python")[index]
    if "../shared/" in code:  # CI runs with ../shared beside the clone; without it the block cannot run verbatim
        assert (ROOT.parent / "shared").is_dir(), "the README's data block needs ../shared beside this checkout"
    script = tmp_path / f"readme_block_{index}.py"
    script.write_text(code)
    run = run_in_repo_view([sys.executable, str(script)], tmp_path)
    assert run.returncode == 0, f"README python block {index} failed:\n{code}\n{run.stderr[-3000:]}"
    assert run.stdout.strip(), "the block printed nothing"
    for promised in expected_outputs(code):
        assert promised in run.stdout, f"the block did not print {promised}:\n{run.stdout}"


@pytest.mark.slow
def test_readme_predict_lines_run_verbatim(tmp_path):
    lines = [line for line in shell_lines(README) if line.startswith("fer-hub predict ")]
    assert lines, "the README shows no fer-hub predict line"
    for number, line in enumerate(lines):
        run = run_in_repo_view(["bash", "-c", line], tmp_path / str(number))
        assert run.returncode == 0, f"`{line}` failed: {run.stderr[-2000:]}"
        found = "face" in run.stdout or re.search(r"wrote \S+: [1-9]\d* rows", run.stderr)  # text, or a table of faces
        assert found and "error" not in run.stderr, f"`{line}`:\n{run.stdout}\n{run.stderr}"
