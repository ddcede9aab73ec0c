"""`fer-hub predict-data`: every face of one split of a data source -> a predictions CSV, one line per face.

    row,label,angry,disgust,fear,happy,sad,surprise,neutral
    0,happy,0.012345,0.000100,0.023456,0.901234,0.030000,0.011865,0.021000

`row` is the face's 0-based index in the split (for a label-less CSV, which is all `test`, its data row in the
file), `label` the predicted class name, then the 7 class probabilities (6 decimals). Any source
`load_fer2013` reads works, including Kaggle's label-less CSV with a `pixels` column only.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path

import datasets
import numpy as np

from ..data.fer2013 import dataset_split, load_fer2013
from ..errors import ParameterError
from ..inference.classifier import BATCH_SIZE, Classifier, load_classifier
from ..labels import LABELS
from ..output_paths import check_outputs, local_files, replaced_file

PREDICTIONS_HEADER = ("row", "label", *LABELS)


def split_images(split: datasets.Dataset) -> Iterator:
    """The images of a split in order, decoded a batch at a time."""
    for batch in split.select_columns(["image"]).iter(batch_size=BATCH_SIZE):
        yield from batch["image"]


def predict_split(classifier: Classifier, split: datasets.Dataset, tta: bool = False) -> np.ndarray:
    """Class probabilities (N, 7) of every face of a split, in its order."""
    return classifier.probabilities(split_images(split), tta=tta)


def data_inputs(data: str | Path) -> list[Path]:
    """The files a data source reads that an output must not overwrite: the CSV (and its votes file, when given
    separately), or the images of an image-folder tree; nothing for a Hub dataset id."""
    if Path(data).is_dir():
        from ..media.paths import is_image_file

        return [path for path in Path(data).rglob("*") if is_image_file(path) and path.is_file()]
    return local_files(data)


def predictions_path(output: str | Path, data: str | Path | None = None) -> Path:
    """`output` if a predictions CSV can be written there (checked before any work): a .csv file name, not a
    folder, not the `data` it predicts (nor one of its images)."""
    output = Path(output)
    if output.suffix != ".csv":
        raise ParameterError("output", f"{output}: the predictions file must end in .csv")
    check_outputs([("output", output)], inputs=data_inputs(data) if data is not None else ())
    return output


def write_predictions(probabilities: np.ndarray, output: str | Path) -> Path:
    """The predictions CSV at `output` (a path `predictions_path` accepted), written to a temporary file beside it
    and renamed into place, so the file is either complete or absent."""
    output = Path(output)
    with replaced_file(output) as staging, open(staging, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(PREDICTIONS_HEADER)
        for row, scores in enumerate(probabilities):
            writer.writerow([row, LABELS[int(np.argmax(scores))], *(f"{score:.6f}" for score in scores)])
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
    output = predictions_path(output, data)
    classifier = load_classifier(models, trust_remote_code=trust_remote_code)  # a wrong model name fails first
    faces = dataset_split(load_fer2013(data), split, data)
    return write_predictions(predict_split(classifier, faces, tta=tta), output)
