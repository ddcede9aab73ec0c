"""`fer-hub evaluate`: a model on one split -> per-class table, metrics JSON and confusion-matrix PNG."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..data.fer2013 import dataset_split, load_fer2013
from ..errors import FerHubError
from ..inference.classifier import EnsembleClassifier, load_classifier
from ..labels import LABELS
from ..output_paths import check_outputs, local_files, replaced_file
from .metrics import label_set_reports
from .predictions import data_inputs, predict_split

BLUES = (  # matplotlib's "Blues" colour map (ColorBrewer), from rate 0 to rate 1 in equal steps
    (247, 251, 255), (222, 235, 247), (198, 219, 239), (158, 202, 225), (107, 174, 214),
    (66, 146, 198), (33, 113, 181), (8, 81, 156), (8, 48, 107),
)  # fmt: skip
CELL = 66  # pixels a side of one cell of the confusion-matrix image


def blues(rate: float) -> tuple[int, int, int]:
    """The colour of a rate in [0, 1] on BLUES, linearly between its steps."""
    position = min(max(rate, 0.0), 1.0) * (len(BLUES) - 1)
    low = min(int(position), len(BLUES) - 2)
    fraction = position - low
    return tuple(round(a + (b - a) * fraction) for a, b in zip(BLUES[low], BLUES[low + 1]))


def save_confusion_matrix(matrix: list[list[int]], path: Path, title: str) -> None:
    """Row-normalised confusion matrix with counts, as a PNG (drawn with Pillow: each cell its rate and count,
    true classes down the side, predicted classes along the bottom)."""
    counts = np.asarray(matrix, dtype=np.int64)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    cell_font, label_font, title_font = (ImageFont.load_default(size=size) for size in (11, 14, 16))
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    label_width = max(measure.textlength(name, font=label_font) for name in LABELS)
    reach = round(label_width / math.sqrt(2)) + 12  # how far the 45-degree column labels hang below and left
    left = round(label_width) + 56
    top = 46
    side = CELL * len(LABELS)
    title_width = measure.textlength(title, font=title_font)
    title_x = max(left + side / 2, title_width / 2 + 10)  # over the grid, unless that cuts a long title off
    width = round(max(left + side + 40, title_x + title_width / 2 + 10))
    image = Image.new("RGB", (width, top + side + reach + 40), "white")
    draw = ImageDraw.Draw(image)
    draw.text((title_x, top / 2), title, fill="black", font=title_font, anchor="mm")
    for row, column in np.ndindex(rates.shape):
        x, y = left + column * CELL, top + row * CELL
        draw.rectangle((x, y, x + CELL - 1, y + CELL - 1), fill=blues(rates[row, column]))
        text = f"{rates[row, column]:.2f}\n({counts[row, column]})"
        color = "white" if rates[row, column] > 0.5 else "black"
        draw.multiline_text(
            (x + CELL / 2, y + CELL / 2), text, fill=color, font=cell_font, anchor="mm", align="center", spacing=2
        )
    draw.rectangle((left - 1, top - 1, left + side, top + side), outline="black")
    for index, name in enumerate(LABELS):
        middle = index * CELL + CELL / 2
        draw.line((left - 5, top + middle, left - 1, top + middle), fill="black")
        draw.text((left - 9, top + middle), name, fill="black", font=label_font, anchor="rm")
        draw.line((left + middle, top + side, left + middle, top + side + 4), fill="black")
        _paste_rotated(image, name, label_font, (round(left + middle), top + side + 8))
    draw.text((left + side / 2, top + side + reach + 20), "predicted", fill="black", font=label_font, anchor="mm")
    _paste_rotated(image, "true", label_font, (18, top + side // 2), angle=90, anchor="centre")
    image.save(path)


def _paste_rotated(
    image: Image.Image,
    text: str,
    font: ImageFont.FreeTypeFont,
    at: tuple[int, int],
    angle: int = 45,
    anchor: str = "end",
) -> None:
    """Black `text` turned `angle` degrees anticlockwise, its end (top right corner after turning 45 degrees) or its
    centre at `at`."""
    left, top, right, bottom = font.getbbox(text)
    label = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(label).text((1 - left, 1 - top), text, fill=255, font=font)
    turned = label.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    if anchor == "centre":
        corner = (at[0] - turned.width // 2, at[1] - turned.height // 2)
    else:
        corner = (at[0] - turned.width, at[1])
    image.paste((0, 0, 0), corner, turned)


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
    device: str | None = None,
) -> dict:
    """Metrics of a trained model (folder, checkpoint name, Hub id or `.onnx` file), or of the ensemble of
    several, on one split of a FER2013 source, run on `device` (see `fer_hub.inference.devices`); with `votes` (FER+
    votes for the source's rows) also against the FER+ majority."""
    classifier = load_classifier(
        models, trust_remote_code=trust_remote_code, device=device
    )  # a wrong model name fails first
    faces = dataset_split(load_fer2013(data, votes=votes), split, data)
    labels = np.asarray(faces["label"])
    if (labels < 0).any():
        raise FerHubError(
            f"{data}: the '{split}' split has no labels to score against (`fer-hub predict-data` predicts it)"
        )
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


def confusion_matrix_path(output: str | Path) -> Path:
    """The confusion matrix PNG written beside the metrics JSON `output`."""
    output = Path(output)
    return output.with_name(output.stem + "_confusion_matrix.png")


def check_evaluation_output(
    output: str | Path, data: str | Path, votes: str | Path | None = None, models: object = None
) -> Path:
    """`output` (metrics JSON) if it and its PNG can be written without overwriting what the evaluation reads
    (`data`, `votes`, model files) or each other, and are not folders: checked before any work."""
    inputs = [*data_inputs(data), *local_files(votes), *local_files(models)]
    check_outputs([("output", output), ("output", confusion_matrix_path(output))], inputs=inputs)
    return Path(output)


def write_evaluation(metrics: dict, output: Path) -> Path:
    """metrics.json at `output` and the confusion matrix PNG beside it, each written to a temporary file renamed
    into place when complete; returns the PNG's path."""
    output = Path(output)
    with replaced_file(output) as staging:
        staging.write_text(json.dumps(metrics, indent=2) + "\n")
    image = confusion_matrix_path(output)
    with replaced_file(image) as staging:
        save_confusion_matrix(
            metrics["confusion_matrix"], staging, title=f"{model_title(metrics)} on {metrics['split']}"
        )
    return image
