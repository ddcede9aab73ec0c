"""The committed held-out predictions (`train/results/<model>/privatetest-predictions.csv`) that test accuracy is
scored from: one per study model and for the ensemble, every PrivateTest face once, in order, as predict-data
writes them."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_hub.inference.classifier import load_classifier, load_model_classifier
from fer_hub.labels import LABELS
from fer_hub.models.pretrained import list_pretrained, pretrained_entry

ROOT = Path(__file__).resolve().parents[1]
PRIVATE_TEST_FACES = 3589  # FER2013's PrivateTest


@pytest.mark.parametrize("model", ["vgg16", "resnet101", "cnn", "rnn", "vit", "ensemble"])
def test_each_study_model_commits_its_held_out_predictions(model):
    with (ROOT / "train/results" / model / "privatetest-predictions.csv").open(newline="") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["row", "label", *LABELS]
        rows = list(reader)
    assert [int(row[0]) for row in rows] == list(range(PRIVATE_TEST_FACES))
    for row in rows:
        probabilities = [float(value) for value in row[2:]]
        assert abs(sum(probabilities) - 1.0) < 1e-4, row
        assert row[1] == LABELS[probabilities.index(max(probabilities))], row


HELDOUT = ROOT.parent / "shared" / "heldout" / "fer2013-privatetest-unlabeled.csv.gz"
SAMPLE = range(0, PRIVATE_TEST_FACES, 113)  # 32 faces spread over the file


def committed_sample(results: str) -> list[list[str]]:
    """The SAMPLE rows of train/results/RESULTS/privatetest-predictions.csv."""
    with (ROOT / "train/results" / results / "privatetest-predictions.csv").open(newline="") as handle:
        committed = list(csv.reader(handle))[1:]
    return [committed[index] for index in SAMPLE]


def sample_faces() -> list[Image.Image]:
    """The SAMPLE faces of the held-out file."""
    assert HELDOUT.is_file(), f"{HELDOUT}: the held-out faces (../shared beside the checkout)"
    with gzip.open(HELDOUT, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        Image.fromarray(np.array(rows[index]["pixels"].split(), dtype=np.uint8).reshape(48, 48)) for index in SAMPLE
    ]


def assert_rows_match(committed: list[list[str]], probabilities: np.ndarray, name: str) -> None:
    for index, row, predicted in zip(SAMPLE, committed, probabilities):
        assert row[1] == LABELS[int(predicted.argmax())], (name, index)
        assert np.allclose([float(value) for value in row[2:]], predicted, atol=2e-4), (name, index)


@pytest.mark.parametrize("name", list_pretrained())
def test_each_trained_models_predictions_are_its_committed_weights_own(name):
    """The predictions file of every loadable zoo model is what its committed weights say (no TTA), row by row."""
    committed = committed_sample(pretrained_entry(name).results)
    probabilities = load_model_classifier(name, bundled=False).probabilities(sample_faces())  # the weights
    assert_rows_match(committed, probabilities, name)


def test_the_ensembles_predictions_are_its_members_mean():
    """The ensemble's predictions file is what its members (named in its metrics.json) say together, row by row."""
    members = json.loads((ROOT / "train/results/ensemble/metrics.json").read_text())["model"].split("+")
    assert len(members) >= 2 and all(member in list_pretrained() for member in members), members
    probabilities = load_classifier(members).probabilities(sample_faces())
    assert_rows_match(committed_sample("ensemble"), probabilities, "+".join(members))
