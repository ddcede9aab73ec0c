"""The committed held-out predictions (`train/results/<model>/privatetest-predictions.csv`) that test accuracy is
scored from: one per study model and for the ensemble, every PrivateTest face once, in order, as predict-data
writes them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fer_hub.labels import LABELS

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
