"""`fer-hub evaluate`: a model on one split -> per-class table, metrics JSON and confusion-matrix PNG."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import torch
from transformers import PreTrainedModel

from .data import load_fer2013
from .errors import FerHubError
from .image_processing_fer import FerImageProcessor
from .labels import LABELS
from .metrics import classification_report
from .zoo import load_checkpoint


@torch.inference_mode()
def predict_logits(
    model: PreTrainedModel, processor: FerImageProcessor, split: datasets.Dataset, tta: bool = False, batch_size: int = 256
) -> np.ndarray:
    """Logits for every image of `split`; with `tta`, averaged with those of the mirrored image."""
    chunks = []
    for start in range(0, len(split), batch_size):
        images = split[start : start + batch_size]["image"]
        pixel_values = processor(images, return_tensors="pt")["pixel_values"]
        logits = model(pixel_values=pixel_values).logits
        if tta:
            logits = (logits + model(pixel_values=pixel_values.flip(-1)).logits) / 2
        chunks.append(logits.float().numpy())
    return np.concatenate(chunks)


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
            axes.text(column, row, f"{rates[row, column]:.2f}\n({int(matrix_array[row, column])})", ha="center",
                      va="center", fontsize=7, color="white" if rates[row, column] > 0.5 else "black")
    axes.set_xticks(range(len(LABELS)), LABELS, rotation=45, ha="right")
    axes.set_yticks(range(len(LABELS)), LABELS)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def format_report(metrics: dict) -> str:
    """A per-class precision/recall/F1 table with the overall accuracy and macro-F1."""
    lines = [f"{'class':<10} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
    for name, scores in metrics["per_class"].items():
        lines.append(f"{name:<10} {scores['precision']:>9.3f} {scores['recall']:>7.3f} {scores['f1']:>7.3f} {scores['support']:>8}")
    lines.append(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['f1_macro']:.4f}  n {metrics['n']}")
    return "\n".join(lines)


def evaluate(model_reference: str, data: str, split: str, tta: bool = False) -> dict:
    """Metrics of a trained model (folder or Hub id) on one split of a FER2013 source."""
    dataset = load_fer2013(data)
    if split not in dataset:
        raise FerHubError(f"{data}: has no '{split}' split (found: {', '.join(dataset)})")
    model, processor = load_checkpoint(model_reference)
    logits = predict_logits(model, processor, dataset[split], tta=tta)
    report = classification_report(np.asarray(dataset[split]["label"]), logits.argmax(-1))
    return {"split": split, "data": str(data), "model": str(model_reference), "tta": tta, **report}


def write_evaluation(metrics: dict, output: Path) -> Path:
    """metrics.json at `output` and the confusion matrix PNG beside it; returns the PNG's path."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(metrics, indent=2) + "\n")
    image = output.with_name(output.stem + "_confusion_matrix.png")
    save_confusion_matrix(metrics["confusion_matrix"], image, title=f"{Path(metrics['model']).name} on {metrics['split']}")
    return image
