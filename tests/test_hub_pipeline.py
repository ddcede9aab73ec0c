"""The face-aware "facial-expression-recognition" pipeline every model folder carries (config.json
`custom_pipelines`, `pipeline_fer.py` + `face_detection.py` + the RetinaFace ONNX file): byte-identical copies of
fer_hub's own modules, self-contained, the same faces and labels as fer_hub's recognizer, working from the folder
alone in a process that never imports fer_hub; and transformers' image-classification one-liner never asks [y/N]."""

from __future__ import annotations

import ast
import builtins
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import fer_hub
from fer_hub.inference import faces
from fer_hub.models import face_detection
from fer_hub.models.factory import (
    CUSTOM_PIPELINES,
    DETECTOR_WEIGHTS,
    PIPELINE_CODE,
    create_model,
    image_processor_for,
    save_checkpoint,
)
from fer_hub.models.pretrained import DEFAULT_MODEL_DIR

REPO = Path(__file__).resolve().parents[1]
PACKAGE = Path(fer_hub.__file__).resolve().parent
EXAMPLES = PACKAGE / "space" / "examples"
FOLDERS = [DEFAULT_MODEL_DIR, *sorted((REPO / "checkpoints").glob("*.fer2013"))]
# in every folder, byte for byte fer_hub.models' own
COPIED_MODULES = ("image_processing_fer.py", "face_pixels.py", *PIPELINE_CODE)
SELF_CONTAINED_IMPORTS = {"__future__", "numpy", "PIL", "onnxruntime", "transformers"}


def _check_pipeline_files(folder: Path) -> None:
    for name in COPIED_MODULES:
        assert (folder / name).read_bytes() == (PACKAGE / "models" / name).read_bytes(), f"{folder}/{name}"
    assert (folder / face_detection.DETECTOR_FILE).read_bytes() == DETECTOR_WEIGHTS.read_bytes()
    config = json.loads((folder / "config.json").read_text())
    assert config["custom_pipelines"] == CUSTOM_PIPELINES


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda folder: folder.name)
def test_every_committed_folder_carries_byte_identical_copies_and_the_pipeline_entry(folder):
    _check_pipeline_files(folder)


def test_save_checkpoint_writes_the_pipeline_into_the_folder(tmp_path):
    model = create_model("cnn")
    save_checkpoint(model, image_processor_for(model), tmp_path / "saved")
    _check_pipeline_files(tmp_path / "saved")


@pytest.mark.parametrize("name", PIPELINE_CODE)
def test_shipped_modules_import_only_numpy_pil_onnxruntime_transformers_and_shipped_siblings(name):
    tree = ast.parse((PACKAGE / "models" / name).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level:
            assert node.level == 1 and f"{node.module}.py" in COPIED_MODULES, ast.unparse(node)
            continue
        elif isinstance(node, ast.ImportFrom):
            roots = {node.module.split(".")[0]}
        else:
            continue
        assert roots <= SELF_CONTAINED_IMPORTS | set(sys.stdlib_module_names), ast.unparse(node)


def test_fer_hub_detects_faces_with_the_shipped_module():
    assert issubclass(faces.FaceDetector, face_detection.FaceDetector)
    assert faces.face_crop is face_detection.face_crop and faces.FaceBox is face_detection.FaceBox
    assert "def _nms" not in (PACKAGE / "inference" / "faces.py").read_text()


@pytest.fixture(scope="module")
def face_pipeline():
    from transformers import pipeline

    return pipeline("facial-expression-recognition", model=str(DEFAULT_MODEL_DIR), trust_remote_code=True)


def test_pipeline_finds_the_faces_and_labels_of_fer_hubs_recognizer(face_pipeline):
    from fer_hub.inference.classifier import load_model_classifier
    from fer_hub.inference.recognizer import EmotionRecognizer, get_recognizer

    photo = Image.open(EXAMPLES / "group_eight_faces.jpg").convert("RGB")
    found = face_pipeline(photo)
    pytorch = EmotionRecognizer(load_model_classifier(DEFAULT_MODEL_DIR, bundled=False))
    expected = [face.to_dict() for face in pytorch.recognize(photo)]
    assert len(found) == 8
    assert [(face["box"], face["label"]) for face in found] == [(face["box"], face["label"]) for face in expected]
    for face, reference in zip(found, expected):
        assert face["scores"] == pytest.approx(reference["scores"], abs=1e-4)
    shipped = get_recognizer(str(DEFAULT_MODEL_DIR)).recognize(photo)  # the folder's int8 ONNX copy: the same labels
    assert [(list(face.box), face.label) for face in shipped] == [(face["box"], face["label"]) for face in found]


def test_small_crops_are_classified_whole_and_whole_image_forces_it(face_pipeline):
    [face] = face_pipeline(str(EXAMPLES / "fer2013_happy.png"))
    assert face["box"] == [0, 0, 48, 48] and face["label"] == "happy"
    assert sum(face["scores"].values()) == pytest.approx(1.0) and len(face["scores"]) == 7
    [whole] = face_pipeline(str(EXAMPLES / "astronaut.jpg"), whole_image=True)
    assert whole["box"][:2] == [0, 0]
    assert face_pipeline(Image.new("RGB", (320, 240), "gray")) == []  # no face, not a crop


@pytest.mark.parametrize("trust", [True, None])
def test_image_classification_one_liner_after_import_fer_hub_never_prompts(trust, monkeypatch):
    from transformers import pipeline

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setattr(builtins, "input", lambda *args: pytest.fail(f"prompted: {args}"))
    classify = pipeline(
        "image-classification", model=str(REPO / "checkpoints" / "cnn.fer2013"), trust_remote_code=trust
    )
    assert classify(str(EXAMPLES / "fer2013_happy.png"))[0]["label"] == "happy"


CHILD = """
import json, sys
sys.path = [path for path in sys.path if path not in ("", {repo!r})]
sys.meta_path = [finder for finder in sys.meta_path if "editable" not in repr(finder)]  # fer_hub's editable install
from transformers import pipeline
results = {{}}
{body}
results["fer_hub_imported"] = sorted(name for name in sys.modules if name.split(".")[0] == "fer_hub")
print(json.dumps(results))
"""


def _in_a_fresh_process(tmp_path: Path, body: str) -> dict:
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(repo=str(REPO), body=body))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-I", str(script)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results.pop("fer_hub_imported") == []
    return results


@pytest.mark.slow
def test_the_folder_alone_recognizes_every_face_without_fer_hub(tmp_path):
    folder = shutil.copytree(DEFAULT_MODEL_DIR, tmp_path / "model")
    body = f"""
recognize = pipeline("facial-expression-recognition", model={str(folder)!r}, trust_remote_code=True)
results["group"] = recognize({str(EXAMPLES / "group_eight_faces.jpg")!r})
results["astronaut"] = recognize({str(EXAMPLES / "astronaut.jpg")!r})
results["crop"] = recognize({str(EXAMPLES / "fer2013_happy.png")!r})
"""
    results = _in_a_fresh_process(tmp_path, body)
    assert len(results["group"]) == 8
    for face in results["group"]:
        assert len(face["box"]) == 4 and face["box"][2] > 0 and face["box"][3] > 0
        assert len(face["scores"]) == 7 and face["label"] == max(face["scores"], key=face["scores"].get)
    assert [face["label"] for face in results["astronaut"]] == ["happy"]
    assert len(results["crop"]) == 1 and results["crop"][0]["box"] == [0, 0, 48, 48]


@pytest.mark.slow
def test_image_classification_one_liner_without_fer_hub_never_prompts(tmp_path):
    body = f"""
classify = pipeline("image-classification", model={str(REPO / "checkpoints" / "cnn.fer2013")!r}, trust_remote_code=True)
results["top"] = classify({str(EXAMPLES / "fer2013_happy.png")!r})[0]["label"]
"""
    assert _in_a_fresh_process(tmp_path, body) == {"top": "happy"}


@pytest.mark.slow
def test_the_pipeline_works_from_a_hub_repo_alone(hub_endpoint, repo_id, tmp_path, monkeypatch):
    """The committed default model uploaded as it is to the Hub stand-in: the detector's ONNX file comes from the
    repo, in a process without fer_hub."""
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi()
    api.create_repo(repo_id, exist_ok=True)
    files = [path for path in sorted(DEFAULT_MODEL_DIR.iterdir()) if path.is_file()]
    api.create_commit(repo_id, [CommitOperationAdd(path.name, str(path)) for path in files], commit_message="model")
    monkeypatch.delenv("HF_TOKEN")  # a public repo loads anonymously
    body = f"""
recognize = pipeline("facial-expression-recognition", model={repo_id!r}, trust_remote_code=True)
results["astronaut"] = recognize({str(EXAMPLES / "astronaut.jpg")!r})
"""
    results = _in_a_fresh_process(tmp_path, body)
    assert [face["label"] for face in results["astronaut"]] == ["happy"]
