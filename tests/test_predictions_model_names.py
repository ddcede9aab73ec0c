"""Models by name (an existing path wins, then the trained models' names, then Hub ids) and ONNX files
in `evaluate`: the same classification path for every kind of model reference."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch

from fer_hub import create_model, image_processor_for, load_fer2013, save_checkpoint
from fer_hub.cli.main import main
from fer_hub.inference.classifier import BUNDLED_ONNX, load_classifier, load_model_classifier
from fer_hub.models.onnx_export import export_onnx
from fer_hub.models.pretrained import DEFAULT_MODEL_DIR, SOURCE_ROOT, checkpoints_dir, list_pretrained, resolve_model

FIXTURE = Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"


@pytest.fixture(autouse=True)
def private_datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets-cache")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> Path:
    """A checkpoints/ folder holding an untrained rnn as `rnn.fer2013`, and a folder that holds no model."""
    folder = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(1)
    model = create_model("rnn")
    save_checkpoint(model, image_processor_for(model), folder / "rnn.fer2013")
    (folder / "notes").mkdir()
    return folder


@pytest.fixture
def offered(checkpoints, monkeypatch) -> Path:
    monkeypatch.setenv("FER_HUB_CHECKPOINTS", str(checkpoints))
    return checkpoints


def test_the_checkout_offers_its_checkpoints_folder(monkeypatch):
    monkeypatch.delenv("FER_HUB_CHECKPOINTS", raising=False)
    assert checkpoints_dir() == SOURCE_ROOT / "checkpoints" and (SOURCE_ROOT / "pyproject.toml").is_file()
    for name in list_pretrained():  # every trained model of the zoo loads from this checkout
        assert Path(resolve_model(name), "config.json").is_file(), name


def test_resolution_order(offered, tmp_path, monkeypatch, capsys):
    assert resolve_model("rnn.fer2013") == str(offered / "rnn.fer2013")
    assert resolve_model("sepnet.ferplus") == resolve_model(None) == str(DEFAULT_MODEL_DIR)
    assert resolve_model("someone/fer-cnn") == "someone/fer-cnn"  # a Hub id
    assert resolve_model("cnn.fer2013") == "fer-hub/cnn.fer2013"  # no weights here (an installed wheel): the Hub
    capsys.readouterr()
    assert resolve_model("rnn") == str(offered / "rnn.fer2013") and resolve_model("default") == str(DEFAULT_MODEL_DIR)
    notes = capsys.readouterr().err
    assert "model name 'rnn' is now 'rnn.fer2013'" in notes and "model name 'default' is now 'sepnet.ferplus'" in notes
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rnn.fer2013").mkdir()
    assert resolve_model("rnn.fer2013") == "rnn.fer2013"  # an existing path wins


def test_predict_and_evaluate_take_a_model_name(offered, tmp_path, capsys):
    output = tmp_path / "metrics.json"
    assert main(["evaluate", "--model", "rnn.fer2013", "--data", str(FIXTURE), "--output", str(output)]) == 0
    by_name = json.loads(output.read_text())
    folder = str(offered / "rnn.fer2013")
    assert main(["evaluate", "--model", folder, "--data", str(FIXTURE), "--output", str(output)]) == 0
    by_path = json.loads(output.read_text())
    assert by_name["model"] == "rnn.fer2013" and by_name["confusion_matrix"] == by_path["confusion_matrix"]
    crop = tmp_path / "face.png"
    load_fer2013(FIXTURE)["validation"][0]["image"].save(crop)
    capsys.readouterr()
    assert main(["predict", "--json", "--whole-image", "--model", "rnn.fer2013", str(crop)]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["faces"]) == 1


def test_an_unknown_name_lists_the_names_at_once_without_the_hub(offered, capsys, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: a Hub lookup would fail differently
    for typo in ("vgg16", "sepnett", "cnn.ferplus"):
        assert main(["evaluate", "--model", typo, "--data", str(FIXTURE)]) == 2
        error = capsys.readouterr().err
        assert f"unknown model name {typo!r}; trained models: {', '.join(list_pretrained())}" in error
        assert "Traceback" not in error and len(error.strip().splitlines()) == 1


def test_evaluate_runs_an_onnx_file_like_its_folder(tmp_path):
    onnx_file = export_onnx(str(DEFAULT_MODEL_DIR), tmp_path / "default.onnx").path
    images = list(load_fer2013(FIXTURE)["validation"]["image"])
    np.testing.assert_allclose(
        load_classifier(onnx_file).probabilities(images, tta=True),
        load_model_classifier(DEFAULT_MODEL_DIR, bundled=False).probabilities(images, tta=True),  # its weights
        atol=1e-4,
    )
    onnx_file = DEFAULT_MODEL_DIR / BUNDLED_ONNX  # what `--model default` runs on the CPU
    outputs = {name: tmp_path / f"{name}.json" for name in ("onnx", "folder")}
    assert (
        main(["evaluate", "--model", str(onnx_file), "--data", str(FIXTURE), "--tta", "--output", str(outputs["onnx"])])
        == 0
    )
    assert (
        main(["evaluate", "--model", "default", "--data", str(FIXTURE), "--tta", "--output", str(outputs["folder"])])
        == 0
    )
    onnx_metrics, folder_metrics = (json.loads(path.read_text()) for path in outputs.values())
    assert (
        onnx_metrics["model"] == str(onnx_file)
        and onnx_metrics["n"] == 35
        and folder_metrics["model"] == "sepnet.ferplus"
    )
    assert onnx_metrics["confusion_matrix"] == folder_metrics["confusion_matrix"]


def test_a_missing_onnx_file_is_named(tmp_path, capsys):
    assert main(["evaluate", "--model", str(tmp_path / "absent.onnx"), "--data", str(FIXTURE)]) == 2
    assert f"{tmp_path / 'absent.onnx'}: no such ONNX file" in capsys.readouterr().err
