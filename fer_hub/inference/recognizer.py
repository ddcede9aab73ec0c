"""EmotionRecognizer: the faces of an image -> crops -> the classification path of `fer_hub.inference.classifier` (one
batched forward per model) -> a label and 7 scores per face."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from ..errors import FerHubError
from ..labels import LABELS
from ..models.pretrained import DEFAULT_MODEL, PRETRAINED
from .classifier import (
    Classifier,
    ModelClassifier,
    ModelReferences,
    combine,
    load_model_classifier,
    model_references,
    resolve_model,
)
from .devices import resolve_device
from .faces import Box, FaceBox, FaceDetector, boxes_in_image, face_crop


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

    def __init__(self, classifier: Classifier, detector: FaceDetector | None = None):
        self.classifier = classifier
        self.detector = detector or FaceDetector()

    def recognize(
        self,
        image: Image.Image,
        tta: bool = False,
        whole_image: bool = False,
        boxes: Sequence[Sequence[float]] | None = None,
    ) -> list[Face]:
        """Every face found (largest first; each framed as in FER2013 and turned upright by its eyes before
        classifying: `fer_hub.inference.faces.face_crop`), or the whole image as one face, or the faces in `boxes` when given
        ([x, y, w, h] in the image's pixels, each classified as it is, without detection; a box of no size or
        reaching outside the image is a FerHubError); [] when none is found. With `tta`, each face's logits are
        averaged with those of its mirror image."""
        return self.recognize_batch([image], tta=tta, whole_image=whole_image, boxes=boxes)[0]

    def recognize_batch(
        self,
        images: list[Image.Image],
        tta: bool = False,
        whole_image: bool = False,
        boxes: Sequence[Sequence[float]] | None = None,
    ) -> list[list[Face]]:
        """`recognize` for several images (e.g. video frames): the faces of all of them are classified together."""
        return self.classify(images, [self.find_faces(image, whole_image, boxes) for image in images], tta=tta)

    def classify(self, images: list[Image.Image], found: list[list[FaceBox]], tta: bool = False) -> list[list[Face]]:
        """The expressions of faces already found (`found[i]`: the faces of `images[i]`), all in one batch."""
        crops = [face_crop(image, face) for image, faces in zip(images, found) for face in faces]
        rows = iter(self.classifier.probabilities(crops, tta=tta))
        return [
            [Face(face.box, dict(zip(LABELS, map(float, next(rows)), strict=True))) for face in faces]
            for faces in found
        ]

    def find_faces(
        self, image: Image.Image, whole_image: bool = False, boxes: Sequence[Sequence[float]] | None = None
    ) -> list[FaceBox]:
        """The faces `recognize` classifies: detected, the whole image, or the given boxes."""
        if boxes and whole_image:
            raise FerHubError("give face boxes or whole_image, not both")
        if boxes:
            return [FaceBox(box) for box in boxes_in_image(boxes, image.size)]
        if whole_image:
            return [FaceBox((0, 0, image.width, image.height))]
        return self.detector.detect(image)


def count_faces(faces: list[Face]) -> str:
    """'no face found', '1 face found', '3 faces found'."""
    if not faces:
        return "no face found"
    return f"{len(faces)} face{'s' if len(faces) > 1 else ''} found"


def model_choices(models: list[str] | None = None) -> dict[str, list[str]]:
    """What a model picker offers, name -> model references: the given models, the default (`sepnet.ferplus`), the
    trained models whose weights are on this machine, and the ensemble of all but the default ('a+b+c') when there
    are two or more."""
    here = [name for name, entry in PRETRAINED.items() if entry.local_folder is not None]
    names = list(dict.fromkeys([*(models or []), DEFAULT_MODEL, *here]))
    choices = {name: [name] for name in names}
    members = [name for name in names if name != DEFAULT_MODEL]
    if len(members) >= 2:
        choices["+".join(members)] = members
    return choices


_MODELS: dict[tuple[str, str], ModelClassifier] = {}  # (model location, device) -> its classifier
_RECOGNIZERS: dict[tuple[tuple[str, ...], str], EmotionRecognizer] = {}
_LOADING = threading.Lock()


def get_recognizer(
    references: ModelReferences = None, trust_remote_code: bool = False, device: str | None = None
) -> EmotionRecognizer:
    """The recognizer for one model or the ensemble of several (see `fer_hub.inference.classifier.load_classifier`) on
    `device` (see `fer_hub.inference.devices`; faces are always found on the CPU), loaded once and kept; an ensemble
    shares its members with the recognizers of each. Loading is serialised; requests for models already loaded never
    wait for it. `trust_remote_code` as in `load_checkpoint`."""
    references = model_references(references)
    device = resolve_device(device)
    locations = tuple(resolve_model(reference) for reference in references)
    key = (locations, device)
    if key not in _RECOGNIZERS:
        with _LOADING:
            if key not in _RECOGNIZERS:
                for location, reference in zip(locations, references):
                    if (location, device) not in _MODELS:
                        _MODELS[location, device] = load_model_classifier(reference, trust_remote_code, device)
                members = [_MODELS[location, device] for location in locations]
                _RECOGNIZERS[key] = EmotionRecognizer(combine(members))
    return _RECOGNIZERS[key]
