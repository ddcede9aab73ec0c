"""train/select_ensemble.py: the zoo's ensemble is chosen on PublicTest among the FER2013-label models."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def select(load_script):
    return load_script("train/select_ensemble.py")


def test_sets_are_ranked_by_accuracy_the_smaller_set_first_on_a_tie(select):
    one_hot = np.eye(7)
    probabilities = {  # the classes each model picks for four faces whose labels are 0, 1, 2, 3
        "a.fer2013": one_hot[[0, 1, 0, 0]],
        "b.fer2013": one_hot[[0, 1, 2, 0]],
        "c.fer2013": one_hot[[1, 1, 2, 3]],
    }
    ranking = select.ranked_sets(probabilities, np.array([0, 1, 2, 3]))
    assert [(entry["models"], entry["accuracy"]) for entry in ranking] == [
        (["b.fer2013", "c.fer2013"], 0.75),
        (["a.fer2013", "b.fer2013", "c.fer2013"], 0.75),
        (["a.fer2013", "b.fer2013"], 0.5),
        (["a.fer2013", "c.fer2013"], 0.5),
    ]


def test_the_candidates_are_the_models_trained_on_fer2013_labels(select):
    names = select.candidates()
    assert "sepnet.ferplus" not in names and {"vgg16.fer2013", "cnn.fer2013", "sepnet.fer2013"} <= set(names)
