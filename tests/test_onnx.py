"""fer-hub export-onnx: the ONNX file agrees with PyTorch, carries its processor, and serves predict; static int8
is calibrated on Training faces and kept only within 0.3 PublicTest points of fp32; the default model's shipped
int8 copy agrees with its weights and runs `fer-hub predict` without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from fer_hub import load_fer2013
from fer_hub.cli.main import main
from fer_hub.inference.classifier import BUNDLED_ONNX, load_model_classifier
from fer_hub.inference.onnx_runtime import load_onnx
from fer_hub.inference.torch_logits import TorchLogits
from fer_hub.models import onnx_export
from fer_hub.models.factory import load_checkpoint
from fer_hub.models.pretrained import DEFAULT_MODEL_DIR

FIXTURE = Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"
SHARED_CSV = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.csv.gz"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("onnx")
    files = {"fp32": folder / "default.onnx", "int8": folder / "default-int8.onnx"}
    assert main(["export-onnx", "--model", str(DEFAULT_MODEL_DIR), "--output", str(files["fp32"])]) == 0
    int8 = ["export-onnx", "--model", str(DEFAULT_MODEL_DIR), "--output", str(files["int8"]), "--int8"]
    assert main([*int8, "--data", str(SHARED_CSV)]) == 0
    return files


def validation_pixels() -> np.ndarray:
    _, processor = load_checkpoint(DEFAULT_MODEL_DIR)
    images = list(load_fer2013(FIXTURE)["validation"]["image"])
    return np.asarray(processor(images, return_tensors="np")["pixel_values"], dtype=np.float32)


def test_fp32_onnx_matches_pytorch_on_validation_faces(exported):
    model, _ = load_checkpoint(DEFAULT_MODEL_DIR)
    pixels = validation_pixels()
    with torch.no_grad():
        expected = model(pixel_values=torch.from_numpy(pixels)).logits.numpy()
    classifier, face_pixels = load_onnx(exported["fp32"], threads=1)
    logits = classifier(pixels)
    np.testing.assert_allclose(logits, expected, rtol=1e-3, atol=1e-4)
    assert (logits.argmax(1) == expected.argmax(1)).mean() >= 0.995
    assert face_pixels.size == {"height": 48, "width": 48}


def test_int8_is_static_quantized_smaller_and_within_its_accuracy_bound(exported, capsys):
    assert exported["int8"].stat().st_size < exported["fp32"].stat().st_size / 2
    graph = onnx.load(str(exported["int8"]))
    operators = {node.op_type for node in graph.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= operators  # activations quantized too (static), not weights only
    classifier, _ = load_onnx(exported["int8"])
    logits = classifier(validation_pixels())
    assert logits.shape == (35, 7) and np.isfinite(logits).all()


def test_int8_keeps_only_the_gray_input_convolution_fp32(exported):
    graph = onnx.load(str(exported["int8"])).graph
    dequantized = {output for node in graph.node if node.op_type == "DequantizeLinear" for output in node.output}
    convolutions = [node for node in graph.node if node.op_type == "Conv"]
    fp32 = [node.name for node in convolutions if node.input[1] not in dequantized]
    assert fp32 == [convolutions[0].name] and convolutions[0].input[0] == "pixel_values"  # the one-channel stem
    assert len(convolutions) > 10  # every other convolution reads int8 weights


def test_int8_export_reports_both_accuracies_and_keeps_int8_within_the_bound(tmp_path, capsys):
    output = tmp_path / "int8.onnx"
    result = onnx_export.export_onnx(str(DEFAULT_MODEL_DIR), output, int8=True, data=str(SHARED_CSV))
    assert result.variant == "int8"
    assert result.fp32_accuracy - result.int8_accuracy <= onnx_export.MAX_ACCURACY_DROP
    assert 0.55 < result.fp32_accuracy < 0.65  # the default model's PublicTest accuracy, FER2013 labels
    assert f"int8 {result.int8_accuracy:.4f}" in result.describe()


def test_int8_that_loses_accuracy_is_not_written(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "MAX_ACCURACY_DROP", -1.0)  # no int8 graph can pass
    output = tmp_path / "model.onnx"
    result = onnx_export.export_onnx(str(DEFAULT_MODEL_DIR), output, int8=True, data=str(FIXTURE))
    assert result.variant == "fp32" and "int8 lost more than" in result.describe()
    operators = {node.op_type for node in onnx.load(str(output)).graph.node}
    assert "QuantizeLinear" not in operators
    assert [path.name for path in tmp_path.iterdir()] == ["model.onnx"]  # no staging files left


def test_int8_without_faces_is_one_error_line(tmp_path, capsys):
    output = tmp_path / "m.onnx"
    assert main(["export-onnx", "--model", str(DEFAULT_MODEL_DIR), "--output", str(output), "--int8"]) == 2
    assert capsys.readouterr().err.strip() == (
        "fer-hub export-onnx: error: --data: int8 export needs FER2013 faces: Training rows calibrate, PublicTest "
        "rows check"
    )
    assert not output.exists()


def test_metadata_describes_labels_and_processor(exported):
    metadata = {p.key: p.value for p in onnx.load(str(exported["fp32"])).metadata_props}
    assert json.loads(metadata["fer_hub.id2label"])["3"] == "happy"
    assert json.loads(metadata["fer_hub.image_processor"])["image_mean"] == pytest.approx(0.5077)


def test_predict_runs_an_onnx_file_like_the_default(exported, astronaut_png, capsys):
    assert main(["predict", "--json", "--model", str(exported["fp32"]), str(astronaut_png)]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    (face,) = result["faces"]
    assert main(["predict", "--json", str(astronaut_png)]) == 0
    (default,) = json.loads(capsys.readouterr().out)
    assert default["faces"][0]["box"] == face["box"] and default["faces"][0]["label"] == face["label"]
    assert default["faces"][0]["scores"] == pytest.approx(face["scores"], abs=0.02)


@pytest.fixture(scope="module")
def publictest_pixels() -> tuple[np.ndarray, np.ndarray]:
    faces = load_fer2013(SHARED_CSV)["validation"]
    _, processor = load_checkpoint(DEFAULT_MODEL_DIR)
    return processor.face_pixels().pixel_values(faces["image"]), np.asarray(faces["label"])


def test_the_default_models_shipped_int8_copy_agrees_with_its_weights(publictest_pixels):
    pixels, labels = publictest_pixels
    shipped = load_model_classifier()  # the default on the CPU: its bundled ONNX file
    assert shipped.logits.path == str(DEFAULT_MODEL_DIR / BUNDLED_ONNX)
    pytorch = load_model_classifier(bundled=False)
    assert isinstance(pytorch.logits, TorchLogits)
    int8, fp32 = shipped.pixel_probabilities(pixels), pytorch.pixel_probabilities(pixels)
    int8_accuracy, fp32_accuracy = ((p.argmax(1) == labels).mean() for p in (int8, fp32))
    assert fp32_accuracy - int8_accuracy <= onnx_export.MAX_ACCURACY_DROP, (int8_accuracy, fp32_accuracy)
    assert (int8.argmax(1) == fp32.argmax(1)).mean() >= 0.97
    assert np.abs(int8 - fp32).mean() < 0.01


def test_one_photo_predict_imports_neither_torch_nor_transformers(astronaut_png):
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "fer_hub", "predict", "--json", str(astronaut_png)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    imported = {line.split("|")[-1].strip().split(".")[0] for line in run.stderr.splitlines() if "|" in line}
    assert "onnxruntime" in imported and not {"torch", "transformers"} & imported
    (result,) = json.loads(run.stdout)
    assert [face["label"] for face in result["faces"]] == ["happy"]


def test_a_model_without_an_onnx_copy_runs_on_pytorch():
    assert isinstance(load_model_classifier("cnn.fer2013").logits, TorchLogits)


def test_bad_export_requests_leave_nothing_behind(tmp_path, capsys):
    assert main(["export-onnx", "--model", str(DEFAULT_MODEL_DIR), "--output", str(tmp_path / "model.txt")]) == 2
    assert main(["export-onnx", "--model", str(tmp_path / "missing"), "--output", str(tmp_path / "m.onnx")]) == 2
    assert main(["export-onnx", "--model", str(DEFAULT_MODEL_DIR), "--output", str(tmp_path / "no" / "m.onnx")]) == 2
    errors = capsys.readouterr().err
    assert "must end in .onnx" in errors and "cannot load a model" in errors and "no such folder" in errors
    assert list(tmp_path.iterdir()) == []
    not_onnx = tmp_path / "fake.onnx"
    not_onnx.write_text("hello")
    assert main(["predict", "--model", str(not_onnx), str(not_onnx)]) == 2
    assert "not a readable ONNX model" in capsys.readouterr().err
