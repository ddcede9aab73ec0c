"""`fer-hub evaluate`: a model on one split -> per-class table, metrics JSON and confusion-matrix PNG."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.fer2013 import dataset_split, load_fer2013
from ..errors import FerHubError
from ..inference.classifier import EnsembleClassifier, load_classifier
from ..labels import LABELS
from .metrics import label_set_reports
from .predictions import predict_split


def save_confusion_matrix(matrix: list[list[int]], path: Path, title: str) -> None:
    """Row-normalised confusion matrix with counts, as a PNG."""
    import matplotlib

    matrix_array = np.asarray(matrix, dtype=np.float64)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = matrix_array / np.maximum(matrix_array.sum(axis=1, keepdims=True), 1)
    figure, axes = plt.subplots(figsize=(6.4, 5.6))
    axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for row in range(len(LABELS)):
        for column in range(len(LABELS)):
            axes.text(
                column,
                row,
                f"{rates[row, column]:.2f}\n({int(matrix_array[row, column])})",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if rates[row, column] > 0.5 else "black",
            )
    axes.set_xticks(range(len(LABELS)), LABELS, rotation=45, ha="right")
    axes.set_yticks(range(len(LABELS)), LABELS)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def format_report(metrics: dict) -> str:
    """A per-class precision/recall/F1 table (FER2013 labels) with the overall accuracy and macro-F1, and the
    same two scores against the FER+ majority when the metrics have them."""
    lines = [f"{'class':<10} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
    for name, scores in metrics["per_class"].items():
        lines.append(
            f"{name:<10} {scores['precision']:>9.3f} {scores['recall']:>7.3f} {scores['f1']:>7.3f} {scores['support']:>8}"
        )
    lines.append(
        f"FER2013 labels: accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['f1_macro']:.4f}  n {metrics['n']}"
    )
    if "ferplus_majority" in metrics:
        ferplus = metrics["ferplus_majority"]
        lines.append(
            f"FER+ majority:  accuracy {ferplus['accuracy']:.4f}  macro-F1 {ferplus['f1_macro']:.4f}  n {ferplus['n']} "
            f"({ferplus['without_clear_majority']} faces without a clear majority left out)"
        )
    return "\n".join(lines)


def evaluate(
    models: str | Sequence[str],
    data: str,
    split: str,
    tta: bool = False,
    trust_remote_code: bool = False,
    votes: str | None = None,
) -> dict:
    """Metrics of a trained model (folder, checkpoint name, Hub id or `.onnx` file), or of the ensemble of
    several, on one split of a FER2013 source; with `votes` (FER+ votes for the source's rows) also against
    the FER+ majority."""
    faces = dataset_split(load_fer2013(data, votes=votes), split, data)
    labels = np.asarray(faces["label"])
    if (labels < 0).any():
        raise FerHubError(
            f"{data}: the '{split}' split has no labels to score against (`fer-hub predict-data` predicts it)"
        )
    classifier = load_classifier(models, trust_remote_code=trust_remote_code)
    probabilities = predict_split(classifier, faces, tta=tta)
    members = {}
    if isinstance(classifier, EnsembleClassifier):
        members["ensemble"] = [member.name for member in classifier.members]
    ferplus_labels = faces["ferplus_label"] if votes is not None else None
    report = label_set_reports(probabilities.argmax(-1), labels, ferplus_labels)
    sources = {"data": str(data), **({"votes": str(votes)} if votes is not None else {})}
    return {"split": split, **sources, "model": classifier.name, **members, "tta": tta, **report}


def model_title(metrics: dict) -> str:
    """'cnn', or 'cnn + rnn + vit' for an ensemble: the last part of each model's path or id."""
    return " + ".join(Path(model).name for model in metrics.get("ensemble", [metrics["model"]]))


def write_evaluation(metrics: dict, output: Path) -> Path:
    """metrics.json at `output` and the confusion matrix PNG beside it; returns the PNG's path."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(metrics, indent=2) + "\n")
    image = output.with_name(output.stem + "_confusion_matrix.png")
    save_confusion_matrix(metrics["confusion_matrix"], image, title=f"{model_title(metrics)} on {metrics['split']}")
    return image
