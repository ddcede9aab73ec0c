"""The wheel works on its own, with its core dependencies only: built from a copy of the source, installed into a
fresh virtualenv outside the checkout where no extra's package (gradio, OpenCV, matplotlib, onnx, scikit-learn) can
be imported, it predicts a photo's faces with the embedded model, trains with its packaged recipe, writes a model
card from its packaged template and pushes the Space from its packaged files (to the local Hub stand-in), run from
a directory outside the checkout.

The virtualenv gets its dependencies offline from the project's .venv: the distributions that the wheel's core
requirements need (followed transitively through the installed metadata) are linked into one folder, which a .pth
line adds to the virtualenv's path. Nothing else of the .venv is visible; .pth files inside that folder are not
processed. With FER_HUB_WHEEL_FROM_INDEX=1 the virtualenv instead installs `torch==2.13.0` and then the wheel with
pip from the package index, as a user would (about a minute with this machine's local index; the network else)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from fer_hub.cli.main import main
from fer_hub.hub.push import push_model
from fer_hub.models.pretrained import list_pretrained

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", ".*_cache")

OPTIONAL = ("gradio", "cv2", "matplotlib", "onnx", "onnxscript", "sklearn")  # what the extras bring
FROM_INDEX = os.environ.get("FER_HUB_WHEEL_FROM_INDEX") == "1"

pytestmark = [pytest.mark.slow, pytest.mark.hub]


def _run(command: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    environment.pop("PYTHONPATH", None)
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command}: {result.stderr[-3000:]}"
    return result


def _core_requirements(wheel: Path) -> list[Requirement]:
    """The wheel's Requires-Dist lines that no extra conditions."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    requirements = [Requirement(line.split(":", 1)[1]) for line in lines if line.startswith("Requires-Dist:")]
    return [requirement for requirement in requirements if _applies(requirement, "")]


def _applies(requirement: Requirement, extra: str) -> bool:
    return requirement.marker is None or requirement.marker.evaluate({"extra": extra})


def _needed_distributions(requirements: list[Requirement]) -> dict[str, object]:
    """name -> installed distribution, for `requirements` and everything they need in turn (with the extras they
    ask of each other), as installed in this environment."""
    found: dict[str, object] = {}
    todo, seen = [(requirement, "") for requirement in requirements], set()
    while todo:
        requirement, extra = todo.pop()
        if not _applies(requirement, extra):
            continue
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        for wanted in ("", *sorted(requirement.extras)):
            if (name, wanted) in seen:
                continue
            seen.add((name, wanted))
            try:
                found[name] = distribution(name)
            except PackageNotFoundError:
                pytest.fail(f"{requirement} is needed by the wheel's core dependencies but not installed here")
            todo += [(Requirement(line), wanted) for line in found[name].requires or []]
    return found


def _link_core_dependencies(wheel: Path, folder: Path) -> Path:
    """A folder of links to the files of the installed distributions the wheel's core requirements need."""
    folder.mkdir(parents=True)
    for dist in _needed_distributions(_core_requirements(wheel)).values():
        site_packages = Path(dist.locate_file(""))
        for top in sorted({Path(file).parts[0] for file in dist.files or []} - {"..", "__pycache__"}):
            if (site_packages / top).exists() and not (folder / top).exists():
                (folder / top).symlink_to(site_packages / top)
    return folder


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
    if FROM_INDEX:  # as a user installs it: the CPU build of torch first, then the wheel and its core dependencies
        _run([sys.executable, "-m", "venv", str(venv)], cwd=work)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        _run([*pip, "torch==2.13.0"], cwd=work, timeout=1800)
        _run([*pip, str(wheel)], cwd=work, timeout=1800)
        return venv
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=work)
    site_packages = _run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=work
    ).stdout.strip()
    # named site-packages as installed packages are: dill (datasets' fingerprints) pickles classes of modules outside
    # such a folder by value, which fails for pyarrow's
    core = _link_core_dependencies(wheel, work / "core" / "site-packages")
    (Path(site_packages) / "core_dependencies.pth").write_text(f"{core}\n")
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


def test_no_extra_is_importable_and_the_photo_command_works(installed, astronaut_png, tmp_path):
    python = str(installed / "bin" / "python")
    check = f"import importlib.util; print([name for name in {OPTIONAL!r} if importlib.util.find_spec(name)])"
    assert _run([python, "-c", check], cwd=tmp_path).stdout.strip() == "[]"

    photo = Path(shutil.copy(astronaut_png, tmp_path))
    (result,) = json.loads(_run([str(installed / "bin" / "fer-hub"), "predict", "--json", str(photo)], tmp_path).stdout)
    (face,) = result["faces"]
    assert face["label"] == "happy" and face["scores"]["happy"] > 0.9 and len(face["box"]) == 4

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    demo = subprocess.run(
        [str(installed / "bin" / "fer-hub"), "demo", "--port", port], cwd=tmp_path, capture_output=True, text=True
    )
    assert demo.returncode == 2 and demo.stderr.strip().splitlines() == [
        "fer-hub demo: error: the demo needs gradio: pip install 'fer-hub[demo]'"
    ]


def _installed_package(installed: Path, cwd: Path) -> Path:
    """The fer_hub package folder of the virtualenv, as its Python imports it."""
    code = "import fer_hub; print(fer_hub.__file__)"
    return Path(_run([str(installed / "bin" / "python"), "-c", code], cwd=cwd).stdout.strip()).parent


def test_installed_wheel_lists_the_zoo_and_resolves_its_names_to_the_hub(installed, tmp_path, monkeypatch):
    """No checkpoints/ beside an installed package: the trained models not packaged are Hub repo ids."""
    monkeypatch.delenv("FER_HUB_CHECKPOINTS", raising=False)
    package = _installed_package(installed, tmp_path).resolve()
    assert package.is_relative_to(installed.resolve()) and ROOT not in package.parents

    listing = _run([str(installed / "bin" / "fer-hub"), "models"], cwd=tmp_path).stdout
    weights = {cells[0]: cells[-1] for cells in (re.split(r" {2,}", line) for line in listing.splitlines()) if cells}
    assert weights["sepnet.ferplus"] == str(package / "default_model")
    for name in set(list_pretrained()) - {"sepnet.ferplus"}:
        assert weights[name] == f"hub fer-hub/{name}"

    code = "from fer_hub.models.pretrained import resolve_model; print(resolve_model('cnn.fer2013'))"
    assert _run([str(installed / "bin" / "python"), "-c", code], cwd=tmp_path).stdout.strip() == "fer-hub/cnn.fer2013"


def test_installed_wheel_predicts_with_a_name_from_its_hub_repo(installed, hub_endpoint, tmp_path, monkeypatch, capsys):
    """`--model cnn.fer2013` in the installed wheel downloads fer-hub/cnn.fer2013 (here from the stand-in, where
    the checkout's checkpoints/cnn.fer2013 was pushed) and predicts as that folder does."""
    monkeypatch.delenv("FER_HUB_CHECKPOINTS", raising=False)
    checkpoint = ROOT / "checkpoints" / "cnn.fer2013"
    push_model(checkpoint, "fer-hub/cnn.fer2013")
    face = Path(shutil.copy(ROOT / "fer_hub" / "space" / "examples" / "fer2013_happy.png", tmp_path))

    command = [str(installed / "bin" / "fer-hub"), "predict", str(face), "--whole-image", "--json"]
    (result,) = json.loads(_run([*command, "--model", "cnn.fer2013"], cwd=tmp_path).stdout)
    assert (tmp_path / "hf-home" / "hub" / "models--fer-hub--cnn.fer2013").is_dir()  # HF_HOME, set by hub_endpoint

    assert main(["predict", str(face), "--whole-image", "--json", "--model", str(checkpoint)]) == 0
    (expected,) = json.loads(capsys.readouterr().out)
    ((face_result,), (expected_face,)) = result["faces"], expected["faces"]
    assert face_result["label"] == expected_face["label"]
    assert face_result["scores"] == pytest.approx(expected_face["scores"], abs=1e-5)


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
    space = ROOT / "spaces" / "fer-demo"  # the zoo's Space as push-space uploads it (README: with the zoo's models)
    shown = [path for path in space.rglob("*") if path.is_file() and path.name != "README.md"]
    assert {f"examples/{name}" for name in ("astronaut.jpg", "fer2013_happy.png")} <= {
        path.relative_to(space).as_posix() for path in shown
    }
    for path in shown:  # the wheel's package data (the demo's examples too) is what spaces/fer-demo/ shows
        relative = path.relative_to(space).as_posix()
        assert (
            hub_endpoint.read(repo_id, relative, "space")
            == path.read_bytes()
            == (package / "space" / relative).read_bytes()
        )
    assert (
        hub_endpoint.read(repo_id, "fer_hub/models/registry.py", "space")
        == (package / "models" / "registry.py").read_bytes()
    )
