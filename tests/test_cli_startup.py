"""The `fer-hub` command starts light: `--help`, `--version` and argument errors import no torch, transformers,
datasets or gradio (each subcommand imports what it needs when it runs); FER_HUB_DEBUG=1 shows tracebacks.
Start-up time itself is measured by benchmarks/cli_startup.py, not here."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from fer_hub.cli.main import main
from fer_hub.models.pretrained import list_pretrained

HEAVY = ("torch", "transformers", "datasets", "gradio", "huggingface_hub")
CONSOLE_SCRIPT = Path(sys.executable).with_name("fer-hub")  # installed beside the interpreter


def run_importtime(command: list[str]) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run `command` (a Python program) under -X importtime: its result and the top-level packages it imported."""
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    )
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0]
        for line in run.stderr.splitlines()
        if line.startswith("import time:")
    }
    return run, imported


@pytest.mark.parametrize(
    ("launcher", "args", "exit_code"),
    [
        ("console script", ["--help"], 0),
        ("python -m", ["--help"], 0),
        ("console script", ["train", "--help"], 0),
        ("console script", ["--version"], 0),
        ("console script", ["train", "--model", "cnn"], 2),  # required arguments missing
        ("console script", ["predict", "--no-such-option", "x.png"], 2),
        ("python -m", ["evaluate", "--model", "m", "--data", "d", "--split", "nope"], 2),
        # an unknown model name (a typo) is answered before torch is imported, and never by asking the Hub
        ("console script", ["predict", "photo.jpg", "--model", "sepnett"], 2),
        ("console script", ["evaluate", "--model", "vgg16", "--data", "d"], 2),
        ("console script", ["predict-data", "--model", "cnn.ferplus", "--data", "d", "--output", "o.csv"], 2),
        ("console script", ["export-onnx", "--model", "sepnett", "--output", "o.onnx"], 2),
        ("console script", ["demo", "--model", "sepnett"], 2),
    ],
)
def test_help_version_and_argument_errors_import_no_heavy_package(launcher, args, exit_code):
    program = [str(CONSOLE_SCRIPT)] if launcher == "console script" else [sys.executable, "-m", "fer_hub"]
    run, imported = run_importtime(program + args)
    assert run.returncode == exit_code, run.stderr[-2000:]
    assert "fer_hub" in imported  # the measurement saw the package load
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))
    if exit_code == 2:
        assert "error:" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("launcher", ["console script", "python -m"])
def test_models_command_imports_no_heavy_package(launcher):
    """`fer-hub models` reads the zoo's names, scores and folders without torch or transformers."""
    program = [str(CONSOLE_SCRIPT)] if launcher == "console script" else [sys.executable, "-m", "fer_hub"]
    run, imported = run_importtime([*program, "models"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert "fer_hub" in imported
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))
    listed = {line.split()[0] for line in run.stdout.splitlines() if line.strip()}
    assert set(list_pretrained()) <= listed


def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"fer-hub {version('fer-hub')}"


def test_version_from_a_checkout_that_is_not_installed(tmp_path):
    """`python -m fer_hub` in a source checkout with no installed distribution (`-S`: no site-packages at all)."""
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run(
        [sys.executable, "-S", "-m", "fer_hub", "--version"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == f"fer-hub {version('fer-hub')}"


def test_a_user_error_is_one_line_and_fer_hub_debug_adds_the_traceback(monkeypatch, capsys):
    monkeypatch.delenv("FER_HUB_DEBUG", raising=False)
    assert main(["demo", "--port", "0"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "fer-hub demo: error: --port: must be between 1 and 65535, not 0"
    ]

    monkeypatch.setenv("FER_HUB_DEBUG", "1")
    assert main(["demo", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):") and "check_port" in err
    assert err.strip().splitlines()[-1] == "fer-hub demo: error: --port: must be between 1 and 65535, not 0"


def test_an_unexpected_error_keeps_its_traceback(monkeypatch):
    """A bug is not dressed up as a user mistake: main() lets the exception through (Python prints it)."""

    def broken_check(port: int) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("fer_hub.cli.demo.check_port", broken_check)
    with pytest.raises(ZeroDivisionError, match="a bug"):
        main(["demo", "--port", "7860"])
