"""The numpy metrics give scikit-learn's numbers exactly (scikit-learn is a test dependency only): accuracy,
per-class precision/recall/F1/support with zero_division=0, macro-F1 and the confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest

from fer_hub.evaluation.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    label_set_reports,
    precision_recall_f1,
    trainer_metrics,
)


def test_a_small_case_by_hand():
    labels, predictions = np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0])
    precision, recall, f1, support = precision_recall_f1(labels, predictions)
    assert precision[:3].tolist() == [0.5, 0.5, 1.0] and recall[:3].tolist() == [0.5, 1.0, 2 / 3]
    assert f1[:3].tolist() == [0.5, 2 / 3, 0.8] and f1[3:].tolist() == [0.0] * 4  # absent classes score 0
    assert support.tolist() == [2, 1, 3, 0, 0, 0, 0]
    assert confusion_matrix(labels, predictions)[:3, :3].tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert accuracy(labels, predictions) == 4 / 6


def _cases():
    rng = np.random.default_rng(7)
    yield np.array([3]), np.array([3])
    yield np.array([0, 1]), np.array([6, 6])  # nothing right; two classes never predicted
    for n in (5, 37, 400):
        labels = rng.integers(0, 7, n)
        yield labels, rng.integers(0, 7, n)
        yield labels, np.where(rng.random(n) < 0.6, labels, rng.integers(0, 7, n))  # mostly right
        yield rng.integers(2, 5, n), rng.integers(0, 7, n)  # some classes absent from the labels


@pytest.mark.parametrize(("labels", "predictions"), list(_cases()))
def test_the_numbers_are_scikit_learns(labels, predictions):
    metrics = pytest.importorskip("sklearn.metrics")
    classes = list(range(7))
    expected = metrics.precision_recall_fscore_support(labels, predictions, labels=classes, zero_division=0)
    for ours, theirs in zip(precision_recall_f1(labels, predictions), expected):
        assert ours.tolist() == theirs.tolist()  # exactly, not approximately

    report = classification_report(labels, predictions)
    assert report["accuracy"] == metrics.accuracy_score(labels, predictions)
    assert report["f1_macro"] == metrics.f1_score(labels, predictions, labels=classes, average="macro", zero_division=0)
    assert report["confusion_matrix"] == metrics.confusion_matrix(labels, predictions, labels=classes).tolist()

    majority = np.where(np.arange(len(labels)) % 3 == 0, -1, labels)  # every third face without a clear majority
    scores = trainer_metrics((np.eye(7)[predictions], (labels, majority)))
    assert (
        scores["f1_macro"]
        == metrics.f1_score(labels, predictions, labels=classes, average=None, zero_division=0).mean()
    )
    clear = majority != -1
    if clear.any():
        assert scores["ferplus_accuracy"] == metrics.accuracy_score(majority[clear], predictions[clear])
        assert scores["ferplus_f1_macro"] == metrics.f1_score(
            majority[clear], predictions[clear], labels=classes, average="macro", zero_division=0
        )
        ferplus = label_set_reports(predictions, labels, majority)["ferplus_majority"]
        assert (
            ferplus["confusion_matrix"]
            == metrics.confusion_matrix(majority[clear], predictions[clear], labels=classes).tolist()
        )
