"""The committed held-out predictions (`train/results/<model>/privatetest-predictions.csv`) that test accuracy is
scored from: one per study model and for the ensemble, every PrivateTest face once, in order, as predict-data
writes them."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_hub.inference.classifier import load_model_classifier
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


@pytest.mark.parametrize("name", list_pretrained())
def test_each_trained_models_predictions_are_its_committed_weights_own(name):
    """The predictions file of every loadable zoo model is what its committed weights say (no TTA), row by row."""
    assert HELDOUT.is_file(), f"{HELDOUT}: the held-out faces (../shared beside the checkout)"
    entry = pretrained_entry(name)
    with (ROOT / "train/results" / entry.results / "privatetest-predictions.csv").open(newline="") as handle:
        committed = list(csv.reader(handle))[1:]
    with gzip.open(HELDOUT, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    faces = [
        Image.fromarray(np.array(rows[index]["pixels"].split(), dtype=np.uint8).reshape(48, 48)) for index in SAMPLE
    ]
    probabilities = load_model_classifier(name, bundled=False).probabilities(faces)  # the weights
    for index, predicted in zip(SAMPLE, probabilities):
        assert committed[index][1] == LABELS[int(predicted.argmax())], (name, index)
        assert np.allclose([float(value) for value in committed[index][2:]], predicted, atol=2e-4), (name, index)
