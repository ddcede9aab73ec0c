"""The "facial-expression-recognition" pipeline of a fer-hub model folder or Hub repo: the faces of a photo, each
with its box [x, y, w, h], its label and its 7 scores.

    from transformers import pipeline
    recognize = pipeline("facial-expression-recognition", model="REPO_OR_FOLDER", trust_remote_code=True)
    recognize("photo.jpg")  # [{"box": [x, y, w, h], "label": "happy", "scores": {"angry": ..., ...}}, ...]

Faces are found by RetinaFace (MobileNet-0.25, the ONNX file `face_detection.DETECTOR_FILE` that the folder carries),
framed as FER2013 frames them and turned upright by their eyes (`face_detection.face_crop`), then classified in one
batch; largest face first, [] when there is none. An image no larger than `whole_image_side` pixels a side (a face
crop such as FER2013's 48x48 images) is classified whole, as one face; so is any image with `whole_image=True`.

Self-contained: it imports numpy, PIL, onnxruntime, transformers and the folder's `face_detection.py`, so the folder
works where fer_hub is not installed, but onnxruntime must be installed where this pipeline runs
(`pip install onnxruntime`). This file is a byte-identical copy of `fer_hub.models.pipeline_fer`; config.json's
`custom_pipelines` entry registers it (`fer_hub.models.factory.save_checkpoint` writes both)."""

from __future__ import annotations

import numpy as np
from transformers import Pipeline
from transformers.image_utils import load_image
from transformers.utils import cached_file

from .face_detection import DETECTOR_FILE, FaceBox, FaceDetector, face_crop

TASK = "facial-expression-recognition"
WHOLE_IMAGE_SIDE = 64  # an image no larger than this a side is a face crop, classified whole


class FacialExpressionPipeline(Pipeline):
    """Faces -> FER2013-framed upright crops -> the model -> a box, a label and 7 scores per face."""

    _load_processor = False
    _load_image_processor = True
    _load_feature_extractor = False
    _load_tokenizer = False
    _load_video_processor = False

    def __init__(self, *args, detector: FaceDetector | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._detector = detector

    @property
    def detector(self) -> FaceDetector:
        """RetinaFace with the ONNX weights of the model's folder or Hub repo, loaded on first use."""
        if self._detector is None:
            config = self.model.config
            weights = cached_file(
                self.model.name_or_path, DETECTOR_FILE, revision=getattr(config, "_commit_hash", None)
            )
            self._detector = FaceDetector(weights)
        return self._detector

    def _sanitize_parameters(self, whole_image=None, whole_image_side=None, timeout=None):
        preprocess = {}
        if whole_image is not None:
            preprocess["whole_image"] = whole_image
        if whole_image_side is not None:
            preprocess["whole_image_side"] = whole_image_side
        if timeout is not None:
            preprocess["timeout"] = timeout
        return preprocess, {}, {}

    def preprocess(self, image, whole_image=False, whole_image_side=WHOLE_IMAGE_SIDE, timeout=None):
        image = load_image(image, timeout=timeout)
        if whole_image or max(image.size) <= whole_image_side:
            faces = [FaceBox((0, 0, image.width, image.height))]
        else:
            faces = self.detector.detect(image)
        inputs = {"boxes": [face.box for face in faces]}
        if faces:
            crops = [face_crop(image, face) for face in faces]
            inputs["pixel_values"] = self.image_processor(crops, return_tensors="pt")["pixel_values"].to(self.dtype)
        return inputs

    def _forward(self, model_inputs):
        boxes = model_inputs.pop("boxes")
        if not boxes:
            return {"boxes": boxes, "logits": None}
        return {"boxes": boxes, "logits": self.model(**model_inputs).logits}

    def postprocess(self, model_outputs):
        if model_outputs["logits"] is None:
            return []
        logits = model_outputs["logits"].float().cpu().numpy().astype(np.float64)
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        labels = [self.model.config.id2label[index] for index in range(logits.shape[1])]
        results = []
        for box, row in zip(model_outputs["boxes"], probabilities):
            scores = {label: float(value) for label, value in zip(labels, row)}
            results.append({"box": [int(value) for value in box], "label": labels[int(row.argmax())], "scores": scores})
        return results
