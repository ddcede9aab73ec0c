"""Ensembles: `--model A --model B` in predict, evaluate and predict-data averages the members' probabilities, and the
demo's picker offers the ensemble of its models."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from PIL import Image

from fer_hub import create_model, image_processor_for, load_fer2013, save_checkpoint
from fer_hub.cli.main import main
from fer_hub.evaluation.metrics import classification_report
from fer_hub.inference.classifier import EnsembleClassifier, ModelClassifier, load_classifier
from fer_hub.inference.recognizer import get_recognizer, model_choices

FIXTURE = Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"


@pytest.fixture(autouse=True)
def private_datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets-cache")


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> list[Path]:
    """Two untrained checkpoints of different architectures (random weights: they disagree)."""
    folder = tmp_path_factory.mktemp("members")
    paths = []
    for seed, name in enumerate(("rnn", "cnn")):
        torch.manual_seed(seed)
        model = create_model(name)
        save_checkpoint(model, image_processor_for(model), folder / name)
        paths.append(folder / name)
    return paths


def model_options(members: list[Path]) -> list[str]:
    """`--model A --model B`: the option once per member."""
    return [argument for path in members for argument in ("--model", str(path))]


@pytest.fixture(scope="module")
def validation_images() -> list[Image.Image]:
    return list(load_fer2013(FIXTURE)["validation"]["image"])


@pytest.mark.parametrize("tta", [False, True])
def test_the_ensemble_is_the_mean_of_its_members(members, validation_images, tta):
    ensemble = load_classifier([str(path) for path in members])
    assert isinstance(ensemble, EnsembleClassifier) and len(ensemble.members) == 2
    each = [load_classifier(path).probabilities(validation_images, tta=tta) for path in members]
    assert not np.allclose(each[0], each[1], atol=1e-3)  # the members differ, so the mean is a real test
    combined = ensemble.probabilities(validation_images, tta=tta, batch_size=8)  # batches cut across the split
    np.testing.assert_allclose(combined, (each[0] + each[1]) / 2, atol=1e-6)
    np.testing.assert_allclose(combined.sum(axis=1), 1.0, atol=1e-5)


def test_one_reference_in_a_list_is_that_model_alone(members):
    assert isinstance(load_classifier([str(members[0])]), ModelClassifier)


def test_evaluate_scores_the_ensemble(members, validation_images, tmp_path, capsys):
    output = tmp_path / "ensemble.json"
    arguments = ["evaluate", *model_options(members), "--data", str(FIXTURE), "--output", str(output)]
    assert main(arguments) == 0
    metrics = json.loads(output.read_text())
    assert metrics["ensemble"] == [str(path) for path in members]
    assert metrics["model"] == "+".join(str(path) for path in members)
    mean = sum(load_classifier(path).probabilities(validation_images) for path in members) / 2
    labels = np.asarray(load_fer2013(FIXTURE)["validation"]["label"])
    expected = classification_report(labels, mean.argmax(axis=1))
    assert metrics["accuracy"] == expected["accuracy"] and metrics["confusion_matrix"] == expected["confusion_matrix"]
    assert (tmp_path / "ensemble_confusion_matrix.png").is_file()


def test_predict_data_writes_the_mean(members, validation_images, tmp_path):
    output = tmp_path / "predictions.csv"
    arguments = [
        "predict-data",
        *model_options(members),
        "--data",
        str(FIXTURE),
        "--split",
        "validation",
        "--output",
        str(output),
    ]
    assert main(arguments) == 0
    with output.open(newline="") as file:
        _, *rows = csv.reader(file)
    mean = sum(load_classifier(path).probabilities(validation_images) for path in members) / 2
    np.testing.assert_allclose([[float(value) for value in row[2:]] for row in rows], mean, atol=1e-6)


def test_predict_takes_a_repeated_model_as_the_ensemble(members, tmp_path, capsys):
    crop = tmp_path / "face.png"
    Image.fromarray(np.arange(48 * 48, dtype=np.uint8).reshape(48, 48)).save(crop)
    assert main(["predict", "--json", "--whole-image", *model_options(members), str(crop)]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    scores = np.array(list(result["faces"][0]["scores"].values()))
    mean = sum(load_classifier(path).probabilities([Image.open(crop).convert("RGB")]) for path in members) / 2
    np.testing.assert_allclose(scores, mean[0], atol=1e-6)
    assert main(["predict", "--json", "--whole-image", str(crop), *model_options(members)]) == 0
    assert json.loads(capsys.readouterr().out) == [result]


def test_predict_reads_the_value_after_one_model_as_an_image_even_named_like_a_model(members, tmp_path, capsys):
    """`--model` takes one value: what follows is an image, not a second member, whatever its name."""
    crop = tmp_path / "rnn.fer2013"  # a trained model's name, and no image extension
    Image.fromarray(np.arange(48 * 48, dtype=np.uint8).reshape(48, 48)).save(crop, format="PNG")
    assert main(["predict", "--json", "--whole-image", "--model", str(members[0]), str(crop)]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["image"] == str(crop) and "error" not in result
    scores = np.array(list(result["faces"][0]["scores"].values()))
    alone = load_classifier(members[0]).probabilities([Image.open(crop).convert("RGB")])
    np.testing.assert_allclose(scores, alone[0], atol=1e-6)


def test_predict_without_an_image_is_an_error(members, capsys):
    assert main(["predict", "--model", str(members[0])]) == 2
    assert "fer-hub predict: error: no IMAGE given" in capsys.readouterr().err


def test_an_ensemble_recognizer_shares_its_loaded_members(members):
    single = get_recognizer(str(members[0]))
    ensemble = get_recognizer([str(path) for path in members])
    assert get_recognizer([str(path) for path in members]) is ensemble
    assert ensemble.classifier.members[0] is single.classifier


def test_the_picker_offers_each_model_the_default_and_their_ensemble(members, monkeypatch, tmp_path):
    offered = tmp_path / "checkpoints"
    for name, member in zip(("cnn.fer2013", "rnn.fer2013"), members):
        shutil.copytree(member, offered / name)
    monkeypatch.setenv("FER_HUB_CHECKPOINTS", str(offered))
    assert model_choices() == {
        "sepnet.ferplus": ["sepnet.ferplus"],
        "cnn.fer2013": ["cnn.fer2013"],
        "rnn.fer2013": ["rnn.fer2013"],
        "cnn.fer2013+rnn.fer2013": ["cnn.fer2013", "rnn.fer2013"],
    }
    assert list(model_choices(["someone/fer-vit"])) == [
        "someone/fer-vit",
        "sepnet.ferplus",
        "cnn.fer2013",
        "rnn.fer2013",
        "someone/fer-vit+cnn.fer2013+rnn.fer2013",
    ]
    monkeypatch.setenv("FER_HUB_CHECKPOINTS", str(tmp_path / "absent"))
    assert model_choices() == {"sepnet.ferplus": ["sepnet.ferplus"]}
