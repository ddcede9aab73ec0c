"""The wheel works on its own: built from a copy of the source, installed into a fresh virtualenv outside the
checkout, it trains with its packaged recipe, writes a model card from its packaged template and pushes the Space
from its packaged files (to the local Hub stand-in), run from a directory outside the checkout.

The virtualenv gets its dependencies from the project's .venv through a .pth line (offline, no copies); .pth files
inside that path are not processed, so the project's editable install of fer_hub is not seen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".*_cache")

pytestmark = [pytest.mark.slow, pytest.mark.hub]


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    environment.pop("PYTHONPATH", None)
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{command}: {result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A virtualenv (its folder) with the freshly built fer-hub wheel installed and nothing else of its own."""
    work = tmp_path_factory.mktemp("wheel")
    source = Path(shutil.copytree(ROOT, work / "source", symlinks=True, ignore=NOT_SOURCE))
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(work / "dist"),
            str(source),
        ],
        cwd=work,
    )
    (wheel,) = (work / "dist").glob("fer_hub-*.whl")
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=work)
    site_packages = _run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=work
    ).stdout.strip()
    (Path(site_packages) / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        cwd=work,
    )
    return venv


def _package_files(package: Path) -> set[str]:
    return {
        path.relative_to(package).as_posix()
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_installed_package_holds_every_file_of_the_source_package(installed):
    (site_packages,) = (installed / "lib").glob("python3*/site-packages")
    assert _package_files(site_packages / "fer_hub") == _package_files(ROOT / "fer_hub")


def test_installed_wheel_trains_writes_a_card_and_pushes_the_space(installed, hub_endpoint, repo_id, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data = Path(shutil.copy(FIXTURE, elsewhere))
    fer_hub = [str(installed / "bin" / "fer-hub")]
    package = Path(
        _run(
            [str(installed / "bin" / "python"), "-c", "import fer_hub; print(fer_hub.__file__)"], cwd=elsewhere
        ).stdout.strip()
    ).parent
    assert package.is_relative_to(installed) and package.name == "fer_hub"

    _run(
        [*fer_hub, "train", "--model", "sepnet", "--data", str(data), "--output-dir", "out", "--max-steps", "1"],
        cwd=elsewhere,
    )
    out = elsewhere / "out"
    assert (out / "model.safetensors").is_file() and (out / "metrics.json").is_file()
    assert f"source: {package / 'recipes' / 'sepnet.yaml'}" in (out / "recipe.yaml").read_text()

    _run([*fer_hub, "card", "out", "--repo-id", "alice/fer-sepnet"], cwd=elsewhere)
    card = (out / "README.md").read_text()
    assert card.startswith("---\n") and "# alice/fer-sepnet" in card and "model-index" in card

    _run([*fer_hub, "push-space", "--repo-id", repo_id], cwd=elsewhere)
    files = set(hub_endpoint.repo(repo_id, "space").files("main"))
    assert {
        "README.md",
        "app.py",
        "requirements.txt",
        "fer_hub/recipes/sepnet.yaml",
        "fer_hub/default_model/model.safetensors",
    } <= files
    assert not [path for path in files if path.startswith("fer_hub/space/")]  # the Space's own files sit at its root
    for path in ("app.py", "examples/astronaut.jpg"):
        assert hub_endpoint.read(repo_id, path, "space") == (package / "space" / path).read_bytes()
    assert (
        hub_endpoint.read(repo_id, "fer_hub/models/registry.py", "space")
        == (package / "models" / "registry.py").read_bytes()
    )
