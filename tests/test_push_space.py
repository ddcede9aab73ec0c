"""`fer-hub push-space` against the local Hub stand-in: the Space gets the demo folder and the fer_hub package in
one commit, its app imports that package in a fresh process, its front matter and requirements fit ZeroGPU (and
still CPU hardware), and broken Space folders are refused first."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from huggingface_hub import SpaceCard, snapshot_download

from fer_hub.cli.main import main
from fer_hub.errors import FerHubError
from fer_hub.hub.push import PACKAGE_DIR, SPACE_DIR, push_space

pytestmark = pytest.mark.hub

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# The torch versions ZeroGPU lists as supported (https://huggingface.co/docs/hub/spaces-zerogpu, "Supported versions")
ZERO_GPU_TORCH = {"2.1.0", "2.1.1", "2.1.2", "2.2.0", "2.2.2", "2.4.0", "2.5.1", "2.6.0", "2.7.1", "2.8.0"}
ZERO_GPU_PYTHON = "3.10"

SPACE_APP_CHECK = """
import os
import app  # the Space's entry point: builds the demo with the embedded model
import fer_hub
assert os.path.realpath(fer_hub.__file__).startswith(os.path.realpath(os.getcwd())), fer_hub.__file__
import gradio
print(isinstance(app.demo, gradio.Blocks))
"""


def test_space_gets_the_app_and_the_package_in_one_commit(hub_endpoint, repo_id):
    url = push_space(repo_id, models=["someone/fer-cnn", "someone/fer-vit"])

    assert url.endswith(f"spaces/{repo_id}")
    space = hub_endpoint.repo(repo_id, "space")
    assert space.sdk == "gradio"
    assert hub_endpoint.commit_count(repo_id, "space") == 2
    assert space.variables == {"FER_HUB_MODELS": "someone/fer-cnn someone/fer-vit"}
    files = set(space.files("main"))
    assert {
        "README.md",
        "app.py",
        "requirements.txt",
        "fer_hub/__init__.py",
        "fer_hub/demo/app.py",
        "fer_hub/default_model/model.safetensors",
    } <= files
    assert {f"examples/{path.name}" for path in (SPACE_DIR / "examples").iterdir()} <= files
    assert not [path for path in files if "__pycache__" in path or path.endswith(".pyc")]
    assert hub_endpoint.read(repo_id, "app.py", "space") == (SPACE_DIR / "app.py").read_bytes()
    published, folder = (
        SpaceCard(hub_endpoint.read(repo_id, "README.md", "space").decode()),
        SpaceCard.load(SPACE_DIR / "README.md"),
    )
    # the Hub links the Space to them, after the embedded default's published repo
    assert published.data.models == ["fer-hub/sepnet.ferplus", "someone/fer-cnn", "someone/fer-vit"]
    assert {**published.data.to_dict(), "models": None} == {**folder.data.to_dict(), "models": None}
    assert published.text == folder.text
    assert (
        hub_endpoint.read(repo_id, "fer_hub/models/factory.py", "space")
        == (PACKAGE_DIR / "models" / "factory.py").read_bytes()
    )


@pytest.mark.slow
def test_space_app_runs_on_the_uploaded_package(hub_endpoint, repo_id, tmp_path):
    assert main(["push-space", "--repo-id", repo_id]) == 0
    snapshot = snapshot_download(repo_id, repo_type="space", local_dir=tmp_path / "space")

    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("FER_HUB_MODELS", None)
    result = subprocess.run(
        [sys.executable, "-c", SPACE_APP_CHECK], cwd=snapshot, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "True"  # a gr.Blocks (the app's DemoBlocks)


def requirement_name(line: str) -> str:
    return re.split(r"[<>=!~;\[ ]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_the_space_fits_zero_gpu_and_cpu_hardware(hub_endpoint, repo_id):
    assert main(["push-space", "--repo-id", repo_id, "--model", "someone/fer-cnn"]) == 0

    card = SpaceCard(hub_endpoint.read(repo_id, "README.md", "space").decode())
    assert card.data.sdk == "gradio" and card.data.python_version == ZERO_GPU_PYTHON
    assert card.data.license == "apache-2.0" and card.data.models == ["fer-hub/sepnet.ferplus", "someone/fer-cnn"]
    assert 0 < len(card.data.short_description) <= 60
    assert card.data.suggested_hardware == "zero-a10g"
    assert "ZeroGPU" in card.text and "CPU" in card.text  # the README says which tiers it fits

    lines = hub_endpoint.read(repo_id, "requirements.txt", "space").decode().splitlines()
    requirements = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    assert not [line for line in requirements if line.startswith("-")]  # no CPU-only index: ZeroGPU needs CUDA torch
    (torch,) = [line for line in requirements if requirement_name(line) == "torch"]
    assert torch.startswith("torch==") and torch.removeprefix("torch==") in ZERO_GPU_TORCH
    names = {requirement_name(line) for line in requirements}
    assert "spaces" in names  # the GPU decorator; it does nothing on other hardware
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    runtime = {requirement_name(line) for line in project["dependencies"] + project["optional-dependencies"]["demo"]}
    assert runtime - {"gradio"} <= names  # gradio comes from sdk_version; the demo needs all the rest
    assert not {"onnx", "onnxscript", "scikit-learn"} & names  # not needed by the demo
    assert "gradio" not in names


def _edit_front_matter(space: Path, old: str, new: str) -> None:
    readme = space / "README.md"
    text = readme.read_text()
    assert old in text
    readme.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda space: _edit_front_matter(space, "sdk: gradio", "sdk: streamlit"), "sdk is 'streamlit'"),
        (lambda space: _edit_front_matter(space, "sdk_version:", "python_version_pin:"), "no pinned sdk_version"),
        (lambda space: (space / "app.py").unlink(), "app_file 'app.py' not found"),
        (lambda space: (space / "requirements.txt").unlink(), "no requirements.txt"),
        (lambda space: (space / "README.md").unlink(), "no README.md"),
        (lambda space: _edit_front_matter(space, "sdk: gradio", "sdk: gradio: 6"), "front matter is not valid YAML"),
        (
            lambda space: _edit_front_matter(space, "short_description: ", "short_description: " + "very " * 12),
            "short_description longer than 60",
        ),
    ],
)
def test_broken_space_folder_is_refused_before_any_network_call(hub_endpoint, repo_id, tmp_path, breakage, message):
    space = Path(shutil.copytree(SPACE_DIR, tmp_path / "space"))
    breakage(space)
    requests_before = len(hub_endpoint.requests)

    with pytest.raises(FerHubError, match=message):
        push_space(repo_id, space_dir=space)

    assert len(hub_endpoint.requests) == requests_before


def test_local_model_folder_is_refused_for_a_space(hub_endpoint, repo_id, tmp_path):
    requests_before = len(hub_endpoint.requests)

    with pytest.raises(FerHubError, match="can only load Hub models"):
        push_space(repo_id, models=[str(tmp_path)])

    assert len(hub_endpoint.requests) == requests_before
