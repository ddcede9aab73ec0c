"""The extras (`fer-hub[demo]`, `[video]`, `[onnx]`): `import fer_hub`, `from_pretrained`, training, evaluation and
`fer-hub predict` on a photo import none of their packages, and a command that needs a missing one fails with one
line naming its extra. (tests/test_wheel.py runs the core on an install where these packages are absent.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fer_hub.cli.main import main
from fer_hub.errors import FerHubError
from fer_hub.optional import require, require_installed

OPTIONAL = ("gradio", "cv2", "onnx", "onnxscript", "matplotlib", "sklearn")  # none is a core dependency
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "fer_hub" / "default_model"
CONSOLE_SCRIPT = Path(sys.executable).with_name("fer-hub")


def optional_imported(stderr: str) -> set[str]:
    """The OPTIONAL packages among the imports that -X importtime reported on `stderr`."""
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0] for line in stderr.splitlines() if line.startswith("import time:")
    }
    assert "fer_hub" in imported  # the measurement saw the package load
    return imported & set(OPTIONAL)


@pytest.mark.slow
def test_from_pretrained_training_and_evaluation_import_no_optional_package():
    program = (
        "import fer_hub\n"
        "from transformers import AutoImageProcessor, AutoModelForImageClassification\n"
        f"model = AutoModelForImageClassification.from_pretrained({str(DEFAULT_MODEL_DIR)!r})\n"
        f"AutoImageProcessor.from_pretrained({str(DEFAULT_MODEL_DIR)!r})\n"
        "import fer_hub.training.train, fer_hub.evaluation.evaluate, fer_hub.hub.push, fer_hub.hub.model_card\n"
        "import fer_hub.media.video, fer_hub.cli.predict_media  # modules images share with videos\n"
        "print(type(model).__module__)\n"
    )
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", program], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().startswith("fer_hub.models.")  # the installed class, not remote code
    assert optional_imported(run.stderr) == set()


@pytest.mark.slow
def test_fer_hub_predict_on_a_photo_imports_no_optional_package(astronaut_png):
    run = subprocess.run(
        [str(CONSOLE_SCRIPT), "predict", str(astronaut_png)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "1 face found" in run.stdout
    assert optional_imported(run.stderr) == set()


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_export_onnx_without_onnx_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if not installed
    assert main(["export-onnx", "--model", str(DEFAULT_MODEL_DIR), "--output", str(tmp_path / "m.onnx")]) == 2
    assert _error_line(capsys) == "fer-hub export-onnx: error: ONNX export needs onnx: pip install 'fer-hub[onnx]'"
    assert not (tmp_path / "m.onnx").exists()


def test_the_demo_without_gradio_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)
    for name in [name for name in sys.modules if name == "fer_hub.demo" or name.startswith("fer_hub.demo.")]:
        monkeypatch.delitem(sys.modules, name)  # imported afresh (monkeypatch puts them back afterwards)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["demo", "--port", str(port)]) == 2
    assert _error_line(capsys) == "fer-hub demo: error: the demo needs gradio: pip install 'fer-hub[demo]'"


def test_a_video_without_opencv_names_the_extra(monkeypatch, tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0" * 64)  # OpenCV is asked for before the file is opened
    monkeypatch.setitem(sys.modules, "cv2", None)
    assert main(["predict", str(clip), "--csv", str(tmp_path / "rows.csv")]) == 2
    assert _error_line(capsys) == (
        "fer-hub predict: error: reading and writing videos needs opencv-python-headless: pip install 'fer-hub[video]'"
    )


def test_a_folder_of_photos_needs_no_video_extra(monkeypatch, astronaut_png, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "astronaut.png").symlink_to(astronaut_png)
    for name in ("cv2", "matplotlib"):
        monkeypatch.setitem(sys.modules, name, None)
    assert main(["predict", str(folder), "--csv", str(tmp_path / "rows.csv")]) == 0
    assert len((tmp_path / "rows.csv").read_text().splitlines()) == 2  # the header and the astronaut's face
    assert "wrote" in capsys.readouterr().err


def test_a_timeline_without_matplotlib_names_the_extra(monkeypatch, tmp_path):
    from fer_hub.media.timeline import Timeline
    from fer_hub.media.video import require_video_support

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    message = "the video timeline plot needs matplotlib: pip install 'fer-hub[video]'"
    with pytest.raises(FerHubError) as error:
        Timeline("clip.mp4").save(tmp_path / "clip.timeline.png")
    assert str(error.value) == message
    with pytest.raises(FerHubError) as error:
        require_video_support()
    assert str(error.value) == message


def test_an_installed_package_that_is_broken_is_not_reported_as_a_missing_extra(monkeypatch, tmp_path):
    (tmp_path / "broken_package").mkdir()
    (tmp_path / "broken_package" / "__init__.py").write_text("import no_such_dependency_of_it\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_of_it"):
        require("broken_package", "demo", "the demo")
    require_installed("broken_package", "demo", "the demo")  # installed: no error
    with pytest.raises(FerHubError, match=r"^the demo needs no_such_package: pip install 'fer-hub\[demo\]'$"):
        require_installed("no_such_package", "demo", "the demo")
    assert require("json", "demo", "the demo") is sys.modules["json"]
