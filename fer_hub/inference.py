"""EmotionRecognizer: the faces of an image -> crops -> one batched forward -> a label and 7 scores per face."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import PreTrainedModel

from .errors import FerHubError
from .faces import Box, FaceDetector
from .image_processing_fer import FerImageProcessor
from .labels import LABELS
from .onnx_runtime import load_onnx
from .zoo import DEFAULT_MODEL_DIR, load_checkpoint

# pixel_values (N, 1, H, W) float32 -> logits (N, 7)
Classifier = Callable[[np.ndarray], np.ndarray]


class TorchClassifier:
    """A transformers image-classification model as a `Classifier`."""

    def __init__(self, model: PreTrainedModel):
        self.model = model.eval()

    @torch.inference_mode()
    def __call__(self, pixel_values: np.ndarray) -> np.ndarray:
        return self.model(pixel_values=torch.from_numpy(pixel_values)).logits.float().numpy()


def load_classifier(reference: str | Path | None = None) -> tuple[Classifier, FerImageProcessor]:
    """A classifier and its image processor from a model folder, a Hub repo id or an exported `.onnx`
    file (None: the embedded model)."""
    if str(reference).endswith(".onnx"):
        classifier, processor = load_onnx(reference)
        id2label = classifier.id2label
    else:
        model, processor = load_checkpoint(reference)
        classifier, id2label = TorchClassifier(model), model.config.id2label
    labels = [id2label[index] for index in range(len(id2label))]
    if labels != list(LABELS):
        raise FerHubError(f"{reference}: the model's classes {labels} are not the FER2013 classes {list(LABELS)}")
    return classifier, processor


@dataclass(frozen=True)
class Face:
    box: Box  # x, y, w, h
    scores: dict[str, float]  # all 7 classes, summing to 1

    @property
    def label(self) -> str:
        return max(self.scores, key=self.scores.__getitem__)

    def to_dict(self, scale: float = 1.0) -> dict:
        """JSON-ready; `scale` maps the box to the coordinates of the original (not downscaled) image."""
        return {"box": [round(value * scale) for value in self.box], "label": self.label, "scores": dict(self.scores)}


class EmotionRecognizer:
    """Finds the faces of an image and classifies each one's expression."""

    def __init__(
        self, classifier: Classifier, processor: FerImageProcessor, detector: FaceDetector | None = None,
        margin: float = 0.1,
    ):
        self.classifier = classifier
        self.processor = processor
        self.detector = detector or FaceDetector()
        self.margin = margin

    def recognize(self, image: Image.Image, tta: bool = False, whole_image: bool = False) -> list[Face]:
        """Every face found (largest first), or the whole image as one face; [] when none is found."""
        boxes = [(0, 0, image.width, image.height)] if whole_image else self.detector.detect(image)
        if not boxes:
            return []
        crops = [image.crop(self._with_margin(box, image.size)) for box in boxes]
        probabilities = self.classify(crops, tta=tta)
        return [
            Face(box, dict(zip(LABELS, map(float, row), strict=True)))
            for box, row in zip(boxes, probabilities, strict=True)
        ]

    def classify(self, images: list[Image.Image], tta: bool = False) -> np.ndarray:
        """Class probabilities (N, 7) of already-cropped faces, in one forward pass; with `tta`, the logits
        are averaged with those of the mirrored faces."""
        pixel_values = np.asarray(self.processor(images, return_tensors="np")["pixel_values"], dtype=np.float32)
        if tta:
            logits = self.classifier(np.concatenate([pixel_values, pixel_values[..., ::-1]]))
            logits = (logits[: len(images)] + logits[len(images) :]) / 2
        else:
            logits = self.classifier(pixel_values)
        return _softmax(logits)

    def _with_margin(self, box: Box, size: tuple[int, int]) -> tuple[int, int, int, int]:
        x, y, w, h = box
        dx, dy = round(w * self.margin), round(h * self.margin)
        return max(0, x - dx), max(0, y - dy), min(size[0], x + w + dx), min(size[1], y + h + dy)


def count_faces(faces: list[Face]) -> str:
    """'no face found', '1 face found', '3 faces found'."""
    if not faces:
        return "no face found"
    return f"{len(faces)} face{'s' if len(faces) > 1 else ''} found"


def _softmax(logits: np.ndarray) -> np.ndarray:
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


_RECOGNIZERS: dict[str, EmotionRecognizer] = {}
_LOADING = threading.Lock()


def get_recognizer(reference: str | Path | None = None) -> EmotionRecognizer:
    """The recognizer for a model folder or Hub repo id (None: the embedded model), loaded once and kept.
    Loading is serialised; requests for models already loaded never wait for it."""
    key = str(reference or DEFAULT_MODEL_DIR)
    if key not in _RECOGNIZERS:
        with _LOADING:
            if key not in _RECOGNIZERS:
                _RECOGNIZERS[key] = EmotionRecognizer(*load_classifier(key))
    return _RECOGNIZERS[key]
