"""Classification metrics with scikit-learn: accuracy, macro-F1, per-class scores, confusion matrix, against
the FER2013 labels and, where FER+ votes are known, against the FER+ majority label of each face that has one."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from ..labels import LABELS, NO_FERPLUS_LABEL


def trainer_metrics(eval_prediction) -> dict[str, float]:
    """`compute_metrics` for Trainer: accuracy, macro-F1 and one F1 per class against the FER2013 labels. When
    the label ids are a (FER2013 labels, FER+ majority labels) pair, also `ferplus_accuracy` and `ferplus_f1_macro`
    over the faces with a clear FER+ majority."""
    logits, label_ids = eval_prediction
    predictions = np.asarray(logits).argmax(axis=-1)
    labels, ferplus_labels = label_ids if isinstance(label_ids, (tuple, list)) else (label_ids, None)
    per_class = f1_score(labels, predictions, labels=range(len(LABELS)), average=None, zero_division=0)
    scores = {
        "accuracy": float(accuracy_score(labels, predictions)),
        "f1_macro": float(per_class.mean()),
        **{f"f1_{name}": float(score) for name, score in zip(LABELS, per_class)},
    }
    if ferplus_labels is not None:
        clear = np.asarray(ferplus_labels) != NO_FERPLUS_LABEL
        majority, predicted = np.asarray(ferplus_labels)[clear], predictions[clear]
        if clear.any():
            scores["ferplus_accuracy"] = float(accuracy_score(majority, predicted))
            scores["ferplus_f1_macro"] = float(
                f1_score(majority, predicted, labels=range(len(LABELS)), average="macro", zero_division=0)
            )
        else:  # nothing to score; model selection still finds its metric
            scores["ferplus_accuracy"] = scores["ferplus_f1_macro"] = 0.0
    return scores


def classification_report(labels: np.ndarray, predictions: np.ndarray) -> dict:
    """The metrics.json payload: accuracy, f1_macro, per-class precision/recall/F1/support, confusion matrix, n."""
    classes = range(len(LABELS))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=classes, zero_division=0
    )
    return {
        "n": len(labels),
        "accuracy": float(accuracy_score(labels, predictions)),
        "f1_macro": float(f1.mean()),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(s), "support": int(n)}
            for name, p, r, s, n in zip(LABELS, precision, recall, f1, support)
        },
        "confusion_matrix": confusion_matrix(labels, predictions, labels=classes).tolist(),
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
