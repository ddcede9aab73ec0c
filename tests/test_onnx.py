"""fer-hub export-onnx: the ONNX file agrees with PyTorch, carries its processor, and serves predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from fer_hub import load_fer2013
from fer_hub.cli.main import main
from fer_hub.inference.onnx_runtime import load_onnx
from fer_hub.models.factory import load_checkpoint
from fer_hub.models.pretrained import DEFAULT_MODEL_DIR

FIXTURE = Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("onnx")
    files = {"fp32": folder / "default.onnx", "int8": folder / "default-int8.onnx"}
    assert main(["export-onnx", "--model", str(DEFAULT_MODEL_DIR), "--output", str(files["fp32"])]) == 0
    assert main(["export-onnx", "--model", str(DEFAULT_MODEL_DIR), "--output", str(files["int8"]), "--int8"]) == 0
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
    classifier, processor = load_onnx(exported["fp32"], threads=1)
    logits = classifier(pixels)
    np.testing.assert_allclose(logits, expected, rtol=1e-3, atol=1e-4)
    assert (logits.argmax(1) == expected.argmax(1)).mean() >= 0.995
    assert processor.to_dict()["size"] == {"height": 48, "width": 48}


def test_int8_file_is_smaller_and_runs(exported):
    assert exported["int8"].stat().st_size < exported["fp32"].stat().st_size
    classifier, _ = load_onnx(exported["int8"])
    logits = classifier(validation_pixels())
    assert logits.shape == (35, 7) and np.isfinite(logits).all()


def test_metadata_describes_labels_and_processor(exported):
    metadata = {p.key: p.value for p in onnx.load(str(exported["fp32"])).metadata_props}
    assert json.loads(metadata["fer_hub.id2label"])["3"] == "happy"
    assert json.loads(metadata["fer_hub.image_processor"])["image_mean"] == pytest.approx(0.5077)


def test_predict_and_recognizer_run_the_onnx_file(exported, astronaut_png, capsys):
    assert main(["predict", "--json", "--model", str(exported["fp32"]), str(astronaut_png)]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    (face,) = result["faces"]
    assert len(face["scores"]) == 7
    assert main(["predict", "--json", str(astronaut_png)]) == 0
    (torch_result,) = json.loads(capsys.readouterr().out)
    assert torch_result["faces"][0]["box"] == face["box"]
    assert torch_result["faces"][0]["scores"] == pytest.approx(face["scores"], abs=1e-4)


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
