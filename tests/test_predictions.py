"""`fer-hub predict-data` and the label-less CSV: one predictions line per face in file order, probabilities that
sum to 1, an atomic write, and bad input named by file, line and field."""

from __future__ import annotations

import csv
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from PIL import Image

from fer_hub import LABELS, create_model, image_processor_for, load_fer2013, save_checkpoint
from fer_hub.cli.main import main
from fer_hub.data.fer2013 import NO_LABEL
from fer_hub.evaluation.predictions import PREDICTIONS_HEADER, write_predictions
from fer_hub.inference.classifier import load_classifier

FIXTURE = Path(__file__).parent / "fixtures" / "fer2013_tiny.csv.gz"


@pytest.fixture(autouse=True)
def private_datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets-cache")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """An untrained rnn checkpoint (random weights: distinct probabilities per face)."""
    torch.manual_seed(0)
    model = create_model("rnn")
    folder = tmp_path_factory.mktemp("models") / "tiny-rnn"
    save_checkpoint(model, image_processor_for(model), folder)
    return folder


def faces(count: int) -> list[np.ndarray]:
    """`count` different 48x48 faces (gradients at different angles)."""
    rows, columns = np.mgrid[0:48, 0:48]
    return [((rows * np.cos(k) + columns * np.sin(k)) * 2.5 + 60).clip(0, 255).astype(np.uint8) for k in range(count)]


def write_unlabeled_csv(path: Path, pixel_rows: list[str]) -> Path:
    """Kaggle's test-file layout: one `pixels` column."""
    path.write_text("pixels\n" + "".join(f"{row}\n" for row in pixel_rows))
    return path


def as_field(face: np.ndarray) -> str:
    return " ".join(map(str, face.ravel()))


def read_predictions(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as file:
        header, *rows = csv.reader(file)
    return header, rows


def test_a_pixels_only_csv_is_unlabeled_test_faces_in_file_order(tmp_path):
    pictures = faces(5)
    dataset = load_fer2013(write_unlabeled_csv(tmp_path / "kaggle-test.csv", [as_field(face) for face in pictures]))
    assert list(dataset) == ["test"]
    assert dataset["test"]["label"] == [NO_LABEL] * 5
    for row, face in zip(dataset["test"], pictures, strict=True):
        assert np.array_equal(np.asarray(row["image"]), face)


def test_predictions_file_has_one_line_per_face_in_order(tmp_path, tiny_model, capsys):
    pictures = faces(7)
    source = write_unlabeled_csv(tmp_path / "unlabeled.csv", [as_field(face) for face in pictures])
    output = tmp_path / "out" / "predictions.csv"
    assert main(["predict-data", "--model", str(tiny_model), "--data", str(source), "--output", str(output)]) == 0
    assert f"wrote {output}" in capsys.readouterr().out

    header, rows = read_predictions(output)
    assert header == ["row", "label", *LABELS] == list(PREDICTIONS_HEADER)
    assert [row[0] for row in rows] == [str(index) for index in range(7)]
    probabilities = np.array([[float(value) for value in row[2:]] for row in rows])
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert [row[1] for row in rows] == [LABELS[index] for index in probabilities.argmax(axis=1)]
    expected = load_classifier(tiny_model).probabilities([Image.fromarray(face) for face in pictures])
    assert np.allclose(probabilities, expected, atol=1e-6)
    assert len({tuple(row[2:]) for row in rows}) == 7  # the faces differ, so do their lines: the order is checked
    assert [path.name for path in output.parent.iterdir()] == ["predictions.csv"]  # no temporary file left


def test_a_labelled_split_is_predicted_too(tmp_path, tiny_model):
    output = tmp_path / "validation.csv"
    assert (
        main(
            [
                "predict-data",
                "--model",
                str(tiny_model),
                "--data",
                str(FIXTURE),
                "--split",
                "validation",
                "--output",
                str(output),
                "--tta",
            ]
        )
        == 0
    )
    _, rows = read_predictions(output)
    expected = load_classifier(tiny_model).probabilities(load_fer2013(FIXTURE)["validation"]["image"], tta=True)
    assert np.allclose([[float(value) for value in row[2:]] for row in rows], expected, atol=1e-6)


def test_an_interrupted_write_leaves_the_previous_file_and_no_partial_one(tmp_path):
    output = tmp_path / "predictions.csv"
    output.write_text("the previous predictions\n")

    def failing_rows():
        yield np.full(len(LABELS), 1 / len(LABELS))
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_predictions(failing_rows(), output)
    assert output.read_text() == "the previous predictions\n"
    assert list(tmp_path.iterdir()) == [output]


def test_a_bad_row_is_named_and_nothing_is_written(tmp_path, tiny_model, capsys):
    good = as_field(faces(1)[0])
    source = write_unlabeled_csv(tmp_path / "bad.csv", [good, " ".join(["7"] * 2303), good])
    output = tmp_path / "predictions.csv"
    assert main(["predict-data", "--model", str(tiny_model), "--data", str(source), "--output", str(output)]) == 2
    error = capsys.readouterr().err
    assert f"fer-hub predict-data: error: {source}, line 3: field 'pixels' has 2303 values" in error
    assert "Traceback" not in error and not output.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--split", "validation"], "has no 'validation' split (found: test)"),
        (["--output", "predictions.json"], "predictions.json: the predictions file must end in .csv"),
    ],
)
def test_bad_requests_are_one_error_line(tmp_path, tiny_model, capsys, arguments, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = write_unlabeled_csv(tmp_path / "unlabeled.csv", [as_field(faces(1)[0])])
    base = ["predict-data", "--model", str(tiny_model), "--data", str(source), "--output", "predictions.csv"]
    assert main(base + arguments) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "predictions.csv").exists() and not (tmp_path / "predictions.json").exists()


def test_evaluate_refuses_a_split_without_labels(tmp_path, tiny_model, capsys):
    source = write_unlabeled_csv(tmp_path / "unlabeled.csv", [as_field(faces(1)[0])])
    assert main(["evaluate", "--model", str(tiny_model), "--data", str(source), "--split", "test"]) == 2
    assert "the 'test' split has no labels to score against" in capsys.readouterr().err
