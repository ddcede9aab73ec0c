"""Classification metrics: accuracy, macro-F1, per-class scores, confusion matrix, against the FER2013 labels
and, where FER+ votes are known, against the FER+ majority label of each face that has one. Computed with numpy,
with scikit-learn's definitions and numbers (`zero_division=0`: a score whose denominator is 0 is 0)."""

from __future__ import annotations

import numpy as np

from ..labels import LABELS, NO_FERPLUS_LABEL


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: int = len(LABELS)) -> np.ndarray:
    """(classes, classes) counts: row = true class, column = predicted class (pairs outside 0..classes-1 are not
    counted, as scikit-learn's `confusion_matrix(labels=range(classes))` does)."""
    labels, predictions = np.asarray(labels, dtype=np.int64).ravel(), np.asarray(predictions, dtype=np.int64).ravel()
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.size} labels but {predictions.size} predictions")
    inside = (labels >= 0) & (labels < classes) & (predictions >= 0) & (predictions < classes)
    pairs = labels[inside] * classes + predictions[inside]
    return np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    """The fraction of predictions equal to their label (0.0 for none)."""
    labels, predictions = np.asarray(labels).ravel(), np.asarray(predictions).ravel()
    return float(np.mean(labels == predictions)) if labels.size else 0.0


def precision_recall_f1(
    labels: np.ndarray, predictions: np.ndarray, classes: int = len(LABELS)
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per class: precision, recall, F1 and support (true count), as scikit-learn's
    `precision_recall_fscore_support(labels=range(classes), zero_division=0)` gives them."""
    true_positives = np.diag(confusion_matrix(labels, predictions, classes)).astype(np.float64)
    support, predicted = _counts(labels, classes), _counts(predictions, classes)
    precision = _divide(true_positives, predicted)
    recall = _divide(true_positives, support)
    f1 = _divide(2 * true_positives, predicted + support)  # = 2PR / (P + R), scikit-learn's form
    return precision, recall, f1, support


def _counts(values: np.ndarray, classes: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.int64).ravel()
    return np.bincount(values[(values >= 0) & (values < classes)], minlength=classes)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


def trainer_metrics(eval_prediction) -> dict[str, float]:
    """`compute_metrics` for Trainer: accuracy, macro-F1 and one F1 per class against the FER2013 labels. When
    the label ids are a (FER2013 labels, FER+ majority labels) pair, also `ferplus_accuracy` and `ferplus_f1_macro`
    over the faces with a clear FER+ majority."""
    logits, label_ids = eval_prediction
    predictions = np.asarray(logits).argmax(axis=-1)
    labels, ferplus_labels = label_ids if isinstance(label_ids, (tuple, list)) else (label_ids, None)
    per_class = precision_recall_f1(labels, predictions)[2]
    scores = {
        "accuracy": accuracy(labels, predictions),
        "f1_macro": float(per_class.mean()),
        **{f"f1_{name}": float(score) for name, score in zip(LABELS, per_class)},
    }
    if ferplus_labels is not None:
        clear = np.asarray(ferplus_labels) != NO_FERPLUS_LABEL
        majority, predicted = np.asarray(ferplus_labels)[clear], predictions[clear]
        if clear.any():
            scores["ferplus_accuracy"] = accuracy(majority, predicted)
            scores["ferplus_f1_macro"] = float(precision_recall_f1(majority, predicted)[2].mean())
        else:  # nothing to score; model selection still finds its metric
            scores["ferplus_accuracy"] = scores["ferplus_f1_macro"] = 0.0
    return scores


def classification_report(labels: np.ndarray, predictions: np.ndarray) -> dict:
    """The metrics.json payload: accuracy, f1_macro, per-class precision/recall/F1/support, confusion matrix, n."""
    precision, recall, f1, support = precision_recall_f1(labels, predictions)
    return {
        "n": len(labels),
        "accuracy": accuracy(labels, predictions),
        "f1_macro": float(f1.mean()),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(s), "support": int(n)}
            for name, p, r, s, n in zip(LABELS, precision, recall, f1, support)
        },
        "confusion_matrix": confusion_matrix(labels, predictions).tolist(),
    }


def label_set_reports(predictions: np.ndarray, labels: np.ndarray, ferplus_labels: np.ndarray | None = None) -> dict:
    """Scores on both label sets, for metrics.json: the FER2013-label `classification_report` at the top level
    (as before FER+), its headline numbers again under `fer2013`, and, given FER+ majority labels, a
    `ferplus_majority` report over the faces with a clear majority plus how many faces had none (left out when
    no face has one)."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    report = classification_report(labels, predictions)
    reports = {**report, "fer2013": {key: report[key] for key in ("n", "accuracy", "f1_macro")}}
    if ferplus_labels is not None:
        ferplus_labels = np.asarray(ferplus_labels)
        clear = ferplus_labels != NO_FERPLUS_LABEL
        if not clear.any():
            return reports
        reports["ferplus_majority"] = {
            **classification_report(ferplus_labels[clear], predictions[clear]),
            "without_clear_majority": int((~clear).sum()),
        }
    return reports
