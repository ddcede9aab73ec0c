"""Model code runs only when asked: fer-hub's own folders load with the installed classes (the code copies they
carry never run, even when edited); any other model code needs trust_remote_code / --trust-remote-code, and then
a warning names the folder or repo whose code runs."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_hub.cli.main import main
from fer_hub.errors import FerHubError
from fer_hub.models.factory import load_checkpoint
from fer_hub.models.pretrained import DEFAULT_MODEL_DIR
from fer_hub.models.trust import remote_code

CODE_FILES = ("configuration_sepnet.py", "modeling_sepnet.py", "image_processing_fer.py")


def _with_marker_code(folder: Path, marker: Path) -> Path:
    """Prepend to every code file of `folder` a line that writes `marker` when the file is imported."""
    for name in CODE_FILES:
        code = folder / name
        code.write_text(f"open({str(marker)!r}, 'w').write('ran')\n" + code.read_text())
    return folder


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "the-model-code-ran"


@pytest.fixture
def tampered_fer_folder(tmp_path, marker) -> Path:
    """A copy of the embedded model whose code files write `marker` when imported."""
    return _with_marker_code(Path(shutil.copytree(DEFAULT_MODEL_DIR, tmp_path / "tampered")), marker)


@pytest.fixture
def foreign_folder(tmp_path, marker) -> Path:
    """The embedded model renamed to a model_type fer-hub does not know: loading it needs the folder's own code."""
    folder = _with_marker_code(Path(shutil.copytree(DEFAULT_MODEL_DIR, tmp_path / "foreign")), marker)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "someone_elses_sepnet"
    (folder / "config.json").write_text(json.dumps(config))
    code = folder / "configuration_sepnet.py"
    code.write_text(code.read_text().replace('model_type = "fer_sepnet"', 'model_type = "someone_elses_sepnet"'))
    return folder


@pytest.fixture(scope="module")
def face_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("face") / "face.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)).save(path)
    return path


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, stderr
    return errors[0]


def test_fer_hub_folders_need_no_remote_code():
    assert remote_code(DEFAULT_MODEL_DIR).classes == ()


@pytest.mark.parametrize("trust", [False, True])
def test_edited_code_in_a_fer_hub_folder_never_runs(tampered_fer_folder, marker, trust):
    model, processor = load_checkpoint(tampered_fer_folder, trust_remote_code=trust)
    assert not marker.exists()
    assert type(model).__module__.startswith("fer_hub.") and type(processor).__module__.startswith("fer_hub.")


def test_predict_on_an_edited_fer_hub_folder_runs_no_code(tampered_fer_folder, marker, face_png, capsys):
    assert main(["predict", "--model", str(tampered_fer_folder), "--whole-image", str(face_png)]) == 0
    assert not marker.exists()
    assert "face found" in capsys.readouterr().out


def test_other_model_code_is_refused_without_trust(foreign_folder, marker):
    with pytest.raises(FerHubError, match="trust-remote-code") as error:
        load_checkpoint(foreign_folder)
    assert str(foreign_folder) in str(error.value) and "modeling_sepnet" in str(error.value)
    assert not marker.exists()


def test_predict_cli_refuses_other_model_code_in_one_line(foreign_folder, marker, face_png, capsys):
    assert main(["predict", "--model", str(foreign_folder), "--whole-image", str(face_png)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("fer-hub predict: error:") and "--trust-remote-code" in line
    assert not marker.exists()


@pytest.mark.parametrize("command", ["evaluate", "export-onnx"])
def test_evaluate_and_export_refuse_other_model_code(command, foreign_folder, marker, tmp_path, capsys):
    data = str(Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz")
    argv = {
        "evaluate": ["evaluate", "--model", str(foreign_folder), "--data", data],
        "export-onnx": ["export-onnx", "--model", str(foreign_folder), "--output", str(tmp_path / "m.onnx")],
    }[command]
    assert main(argv) == 2
    assert "--trust-remote-code" in _one_error_line(capsys.readouterr().err)
    assert not marker.exists()


def test_trusted_code_runs_with_a_warning_naming_the_folder(foreign_folder, marker, caplog):
    with caplog.at_level(logging.WARNING, logger="fer_hub.models.trust"):
        model, _ = load_checkpoint(foreign_folder, trust_remote_code=True)
    assert marker.exists()  # asked for: the folder's code ran
    assert not type(model).__module__.startswith("fer_hub.")
    warnings = [record.getMessage() for record in caplog.records if record.name == "fer_hub.models.trust"]
    assert len(warnings) == 1 and str(foreign_folder) in warnings[0] and "modeling_sepnet" in warnings[0]


def test_predict_cli_runs_other_code_with_trust_remote_code(foreign_folder, marker, face_png, capsys):
    assert main(["predict", "--trust-remote-code", "--model", str(foreign_folder), "--whole-image", str(face_png)]) == 0
    assert marker.exists()


def test_demo_refuses_other_model_code_at_start_up(foreign_folder, marker):
    from fer_hub.demo.app import FerDemo

    with pytest.raises(FerHubError, match="trust-remote-code"):
        FerDemo([str(foreign_folder)])
    assert not marker.exists()


def test_syntax_error_in_trusted_code_is_one_error_line(foreign_folder, face_png, capsys):
    modeling = foreign_folder / "modeling_sepnet.py"
    modeling.write_text(modeling.read_text() + "\ndef broken(:\n")
    assert main(["predict", "--trust-remote-code", "--model", str(foreign_folder), "--whole-image", str(face_png)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert str(foreign_folder) in line and "SyntaxError" in line


def test_syntax_error_in_a_fer_hub_folder_copy_is_never_imported(tampered_fer_folder, face_png, capsys):
    modeling = tampered_fer_folder / "modeling_sepnet.py"
    modeling.write_text(modeling.read_text() + "\ndef broken(:\n")
    assert main(["predict", "--model", str(tampered_fer_folder), "--whole-image", str(face_png)]) == 0


@pytest.mark.hub
def test_hub_repo_with_other_model_code_is_refused(foreign_folder, marker, hub_endpoint, repo_id):
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id)
    api.upload_folder(repo_id=repo_id, folder_path=foreign_folder)
    with pytest.raises(FerHubError, match="trust-remote-code") as error:
        load_checkpoint(repo_id)
    assert repo_id in str(error.value)
    assert not marker.exists()
