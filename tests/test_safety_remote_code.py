"""Model code runs only when asked: fer-hub's own folders load with the installed classes (the code copies they
carry never run, even when edited); any other model code needs trust_remote_code / --trust-remote-code, and then
a warning names the folder or repo whose code runs."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_hub.cli.main import main
from fer_hub.errors import FerHubError
from fer_hub.models.factory import load_checkpoint
from fer_hub.models.pretrained import DEFAULT_MODEL_DIR, list_pretrained, pretrained_entry
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


# --- damaged, oversized and mismatched model folders: one error line each, before anything is built ------------


def _copy_of_default(tmp_path: Path, name: str = "model") -> Path:
    return Path(shutil.copytree(DEFAULT_MODEL_DIR, tmp_path / name))


def _edit_json(path: Path, **changes) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def _half_the_tensors(folder: Path) -> None:
    from safetensors.torch import load_file, save_file

    weights = load_file(folder / "model.safetensors")
    keys = sorted(weights)
    save_file({key: weights[key] for key in keys[::2]}, folder / "model.safetensors", metadata={"format": "pt"})


def _wrong_shape(folder: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    weights = load_file(folder / "model.safetensors")
    weights["classifier.bias"] = torch.zeros(3)
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})


def _truncated(folder: Path) -> None:
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])


def _pickle_only(folder: Path) -> None:
    import collections

    import torch
    from safetensors.torch import load_file

    weights = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save({"state": weights, "extra": collections.OrderedDict(a=1)}, folder / "pytorch_model.bin")


def _huge_transformer(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config = {key: config[key] for key in ("id2label", "label2id")}
    config.update(model_type="vit", num_hidden_layers=100_000, hidden_size=192, num_attention_heads=3)
    (folder / "config.json").write_text(json.dumps(config))


def _huge_processor(folder: Path) -> None:
    _edit_json(folder / "preprocessor_config.json", size={"height": 60_000, "width": 60_000})


def _foreign_processor_type(folder: Path) -> None:
    _edit_json(
        folder / "preprocessor_config.json",
        image_processor_type="ViTImageProcessor",
        auto_map={"AutoImageProcessor": "processing_other.OtherProcessor"},
    )


def _config_is_a_folder(folder: Path) -> None:
    (folder / "config.json").unlink()
    (folder / "config.json").mkdir()


@pytest.mark.parametrize(
    "damage, message",
    [
        (_half_the_tensors, "model.safetensors: lacks weights for classifier.weight"),
        (
            _wrong_shape,
            "model.safetensors: tensors of the wrong shape for the model its config describes: classifier.bias",
        ),
        (_truncated, "model.safetensors: not a complete safetensors file"),
        (_pickle_only, "has no safetensors weights (model.safetensors) (only pytorch_model.bin); fer-hub loads only"),
        (_huge_transformer, "config.json: num_hidden_layers is 100,000, over fer-hub's limit of 256"),
        (_huge_processor, "preprocessor_config.json: size 60,000 pixels a side is over fer-hub's limit of 1,024"),
        (_foreign_processor_type, "image_processor_type 'ViTImageProcessor' but its auto_map points to"),
        (_config_is_a_folder, "config.json: a folder, not a file"),
    ],
    ids=[
        "half-the-tensors",
        "wrong-shape",
        "truncated",
        "pickle-only",
        "100000-layers",
        "60000-px-processor",
        "foreign-processor-type",
        "config-is-a-folder",
    ],
)
def test_bad_model_folder_is_one_error_line(damage, message, tmp_path, face_png, capsys):
    folder = _copy_of_default(tmp_path)
    damage(folder)
    assert main(["predict", "--model", str(folder), "--whole-image", str(face_png)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("fer-hub predict: error:") and str(folder) in line and message in line, line


def test_debug_shows_the_traceback_of_a_bad_model_folder(tmp_path, face_png, capsys, monkeypatch):
    folder = _copy_of_default(tmp_path)
    _truncated(folder)
    monkeypatch.setenv("FER_HUB_DEBUG", "1")
    assert main(["predict", "--model", str(folder), "--whole-image", str(face_png)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "not a complete safetensors file" in err


def test_limits_are_checked_before_building(tmp_path, monkeypatch):
    """An oversized config never reaches transformers: nothing is allocated."""
    from transformers import AutoModelForImageClassification

    folder = _copy_of_default(tmp_path)
    _huge_transformer(folder)
    monkeypatch.setattr(AutoModelForImageClassification, "from_pretrained", pytest.fail)
    with pytest.raises(FerHubError, match="num_hidden_layers"):
        load_checkpoint(folder)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"hidden_size": 100_000}, "hidden_size"),
        ({"intermediate_size": 10**7}, "intermediate_size"),
        ({"image_size": 60_000}, "image_size"),
        ({"stage_channels": [96, 192, 10**6]}, "stage_channels (an entry)"),
        ({"num_hidden_layers": 200, "hidden_size": 16_000, "intermediate_size": 64_000}, "parameters"),
        ({"stage_channels": [16_000] * 200, "convs_per_stage": 100}, "parameters"),
    ],
)
def test_config_size_limits(changes, field):
    from fer_hub.models.limits import check_config_limits

    with pytest.raises(FerHubError, match=rf"^cfg: .*{re.escape(field)}.*limit"):
        check_config_limits(changes, "cfg")


@pytest.mark.parametrize("name", list_pretrained())
def test_the_zoo_loads_with_every_weight_in_place(name):
    path = pretrained_entry(name).local_folder
    assert path is not None and path.is_dir(), f"{name}: its weights are not in this checkout"
    model, processor = load_checkpoint(path)  # raises on any missing, unexpected or mis-shaped tensor
    assert model.config.num_labels == 7 and processor is not None


def test_a_hub_answering_non_json_is_one_error_line(tmp_path, monkeypatch, capsys):
    """A server at HF_ENDPOINT that answers HTML (a proxy's page, a wrong endpoint): push names the repo and says so."""
    import http.server
    import threading

    from huggingface_hub import constants

    class Html(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            body = b"<html>not the Hub</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_POST = _answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    try:
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.setenv("HF_TOKEN", "hf_" + "x" * 30)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        assert main(["push", "--model", str(DEFAULT_MODEL_DIR), "--repo-id", "someone/model"]) == 2
    finally:
        server.shutdown()
    line = _one_error_line(capsys.readouterr().err)
    assert "someone/model" in line and endpoint in line and "not JSON" in line, line


@pytest.mark.hub
def test_hub_repo_with_only_pickled_weights_is_refused(tmp_path, hub_endpoint, repo_id):
    from huggingface_hub import HfApi

    folder = _copy_of_default(tmp_path)
    _pickle_only(folder)
    api = HfApi()
    api.create_repo(repo_id)
    api.upload_folder(repo_id=repo_id, folder_path=folder)
    with pytest.raises(FerHubError, match="has no safetensors weights") as error:
        load_checkpoint(repo_id)
    assert repo_id in str(error.value) and "never pickled ones" in str(error.value)
