"""`fer-hub predict-data`: every face of one split of a data source -> a predictions CSV, one line per face.

    row,label,angry,disgust,fear,happy,sad,surprise,neutral
    0,happy,0.012345,0.000100,0.023456,0.901234,0.030000,0.011865,0.021000

`row` is the face's 0-based index in the split (for a label-less CSV, which is all `test`, its data row in the
file), `label` the predicted class name, then the 7 class probabilities (6 decimals). Any source
`load_fer2013` reads works, including Kaggle's label-less CSV with a `pixels` column only.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import datasets
import numpy as np

from ..data.fer2013 import dataset_split, load_fer2013
from ..errors import FerHubError
from ..inference.classifier import BATCH_SIZE, Classifier, load_classifier
from ..labels import LABELS
from ..output_paths import check_output_file

PREDICTIONS_HEADER = ("row", "label", *LABELS)


def split_images(split: datasets.Dataset) -> Iterator:
    """The images of a split in order, decoded a batch at a time."""
    for batch in split.select_columns(["image"]).iter(batch_size=BATCH_SIZE):
        yield from batch["image"]


def predict_split(classifier: Classifier, split: datasets.Dataset, tta: bool = False) -> np.ndarray:
    """Class probabilities (N, 7) of every face of a split, in its order."""
    return classifier.probabilities(split_images(split), tta=tta)


def predictions_path(output: str | Path) -> Path:
    """`output` if a predictions CSV can be written there (checked before any work)."""
    output = check_output_file(output)
    if output.suffix != ".csv":
        raise FerHubError(f"{output}: the predictions file must end in .csv")
    return output


def write_predictions(probabilities: np.ndarray, output: str | Path) -> Path:
    """The predictions CSV at `output` (a path `predictions_path` accepted), written to a temporary file beside it
    and renamed into place, so the file is either complete or absent."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="") as file:
            writer = csv.writer(file, lineterminator="\n")
            writer.writerow(PREDICTIONS_HEADER)
            for row, scores in enumerate(probabilities):
                writer.writerow([row, LABELS[int(np.argmax(scores))], *(f"{score:.6f}" for score in scores)])
        os.replace(staging, output)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return output


def predict_data(
    models: str | Sequence[str] | None,
    data: str,
    split: str,
    output: str | Path,
    tta: bool = False,
    trust_remote_code: bool = False,
) -> Path:
    """Predict every face of `split` of `data` with a model or the ensemble of several; write the CSV."""
    output = predictions_path(output)
    classifier = load_classifier(models, trust_remote_code=trust_remote_code)  # a wrong model name fails first
    faces = dataset_split(load_fer2013(data), split, data)
    return write_predictions(predict_split(classifier, faces, tta=tta), output)
