"""Face images -> class probabilities: the one classification path (the model's preprocessing, batches, flip
test-time augmentation, softmax) for PyTorch models and ONNX files alike, and the ensemble of several (their
probabilities averaged). Models are named by folder, `.onnx` file, trained-model name or Hub id.

On the CPU, a trained model of fer-hub's whose folder ships an ONNX copy (`onnx/model_quantized.onnx`: the embedded
default) runs on ONNX Runtime and imports neither torch nor transformers; everything else runs on PyTorch, on
`device`.

    classifier = load_classifier(["cnn.fer2013", "runs/vit", "sepnet.onnx"])   # one reference: that model alone
    classifier.probabilities(images, tta=True)                                # (N, 7), rows summing to 1
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path

import numpy as np

from ..errors import FerHubError
from ..labels import LABELS
from ..models.face_pixels import FacePixels
from ..models.pretrained import DEFAULT_MODEL, PRETRAINED, model_name, resolve_model
from .devices import resolve_device

BUNDLED_ONNX = "onnx/model_quantized.onnx"  # a model folder's ONNX Runtime copy (`fer-hub export-onnx --int8`)

BATCH_SIZE = 256  # faces per forward pass (twice as many with flip test-time augmentation)

# pixel_values (N, 1, H, W) float32 -> logits (N, 7)
LogitsFunction = Callable[[np.ndarray], np.ndarray]
ModelReferences = str | Path | Sequence[str | Path] | None


# --- classifiers ------------------------------------------------------------------------------


def softmax(logits: np.ndarray) -> np.ndarray:
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class Classifier:
    """Face images (PIL images, arrays or tensors, any size and mode) -> class probabilities (N, 7)."""

    name: str

    def probabilities(self, images: Iterable, tta: bool = False, batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Probabilities of every image, `batch_size` images per forward pass; with `tta`, each model's logits
        are averaged with those of the mirrored images before the softmax."""
        chunks = [self.batch_probabilities(batch, tta) for batch in batches(images, batch_size)]
        return np.concatenate(chunks) if chunks else np.empty((0, len(LABELS)), dtype=np.float32)

    def batch_probabilities(self, images: list, tta: bool) -> np.ndarray:
        raise NotImplementedError


class ModelClassifier(Classifier):
    """One model (PyTorch or ONNX, as a `LogitsFunction`) with the preprocessing it was trained with."""

    def __init__(self, logits: LogitsFunction, pixels: FacePixels, name: str = DEFAULT_MODEL):
        self.logits = logits
        self.pixels = pixels
        self.name = name

    def pixel_values(self, images: list) -> np.ndarray:
        return self.pixels.pixel_values(images)

    def pixel_probabilities(self, pixel_values: np.ndarray, tta: bool = False) -> np.ndarray:
        """Probabilities of processed faces in one forward pass (of the faces and their mirror images with `tta`)."""
        if not tta:
            return softmax(self.logits(pixel_values))
        logits = self.logits(np.concatenate([pixel_values, pixel_values[..., ::-1]]))
        return softmax((logits[: len(pixel_values)] + logits[len(pixel_values) :]) / 2)

    def batch_probabilities(self, images: list, tta: bool) -> np.ndarray:
        return self.pixel_probabilities(self.pixel_values(images), tta)


class EnsembleClassifier(Classifier):
    """Several models as one: the mean of the members' probabilities (each with its own processor and TTA)."""

    def __init__(self, members: Sequence[Classifier]):
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two members")
        self.members = list(members)
        self.name = "+".join(member.name for member in self.members)

    def batch_probabilities(self, images: list, tta: bool) -> np.ndarray:
        return np.mean([member.batch_probabilities(images, tta) for member in self.members], axis=0)


def model_references(references: ModelReferences) -> list[str | Path | None]:
    """One reference (or None: the embedded model) or several, as a non-empty list."""
    if references is None or isinstance(references, (str, Path)):
        return [references]
    if not references:
        raise FerHubError("no model given")
    return list(references)


def load_model_classifier(
    reference: str | Path | None = None,
    trust_remote_code: bool = False,
    device: str | None = None,
    bundled: bool = True,
) -> ModelClassifier:
    """One model: a trained-model name (None: the default, `sepnet.ferplus`), a model folder, a Hub repo id or a
    `.onnx` file exported by `fer-hub export-onnx`, on `device` (see `fer_hub.inference.devices`; an ONNX file runs on
    the CPU). On the CPU a folder's bundled ONNX copy runs, if it ships one (`bundled=False`: its PyTorch weights).
    Its classes must be the FER2013 classes, in order."""
    location = resolve_model(reference)
    name = model_name(reference)
    device = resolve_device(device)
    if location.endswith(".onnx"):
        onnx_file = location
    else:
        onnx_file = bundled_onnx(location) if device == "cpu" and bundled else None
    if onnx_file:
        from .onnx_runtime import load_onnx

        logits, pixels = load_onnx(onnx_file)
        id2label = logits.id2label
    else:
        from ..models.factory import load_checkpoint
        from .torch_logits import TorchLogits

        model, processor = load_checkpoint(location, trust_remote_code=trust_remote_code)
        logits, pixels, id2label = TorchLogits(model, device), processor.face_pixels(), model.config.id2label
    labels = [id2label[index] for index in range(len(id2label))]
    if labels != list(LABELS):
        raise FerHubError(f"{name}: the model's classes {labels} are not the FER2013 classes {list(LABELS)}")
    return ModelClassifier(logits, pixels, name=name)


def bundled_onnx(location: str) -> str | None:
    """The ONNX Runtime copy (BUNDLED_ONNX) of a trained model fer-hub ships, if its folder has one. Only fer-hub's
    own folders qualify, whose copies are tested against their weights: any other folder runs its weights, with
    every check on them."""
    shipped = {str(entry.local_folder) for entry in PRETRAINED.values() if entry.local_folder is not None}
    path = Path(location) / BUNDLED_ONNX
    return str(path) if str(Path(location)) in shipped and path.is_file() else None


def combine(members: Sequence[Classifier]) -> Classifier:
    """The one member, or the ensemble of several."""
    return members[0] if len(members) == 1 else EnsembleClassifier(members)


def load_classifier(
    references: ModelReferences = None, trust_remote_code: bool = False, device: str | None = None
) -> Classifier:
    """One model (see `load_model_classifier`), or the ensemble of several when given a list of references."""
    return combine(
        [load_model_classifier(reference, trust_remote_code, device) for reference in model_references(references)]
    )
