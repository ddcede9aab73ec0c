"""Classification metrics with scikit-learn: accuracy, macro-F1, per-class scores, confusion matrix."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from .labels import LABELS


def trainer_metrics(eval_prediction) -> dict[str, float]:
    """`compute_metrics` for Trainer: accuracy, macro-F1 and one F1 per class."""
    logits, labels = eval_prediction
    predictions = np.asarray(logits).argmax(axis=-1)
    per_class = f1_score(labels, predictions, labels=range(len(LABELS)), average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "f1_macro": float(per_class.mean()),
        **{f"f1_{name}": float(score) for name, score in zip(LABELS, per_class)},
    }


def classification_report(labels: np.ndarray, predictions: np.ndarray) -> dict:
    """The metrics.json payload: accuracy, f1_macro, per-class precision/recall/F1/support, confusion matrix, n."""
    classes = range(len(LABELS))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predictions, labels=classes, zero_division=0)
    return {
        "n": int(len(labels)),
        "accuracy": float(accuracy_score(labels, predictions)),
        "f1_macro": float(f1.mean()),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(s), "support": int(n)}
            for name, p, r, s, n in zip(LABELS, precision, recall, f1, support)
        },
        "confusion_matrix": confusion_matrix(labels, predictions, labels=classes).tolist(),
    }
