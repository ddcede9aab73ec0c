"""FerImageProcessor: any image (PIL, numpy, torch; any size and mode) -> normalized grayscale `pixel_values`, for
transformers (AutoImageProcessor, pipelines). The steps are `face_pixels.FacePixels` (numpy and PIL only, which the
ONNX Runtime path uses alone).

Travels with checkpoints as remote code, with face_pixels.py beside it.
"""

from __future__ import annotations

import numpy as np
from transformers.image_processing_utils import BaseImageProcessor, BatchFeature

from .face_pixels import DEFAULT_SIZE, FER2013_MEAN, FER2013_STD, FacePixels


class FerImageProcessor(BaseImageProcessor):
    """Converts images to grayscale, resizes them to `size`, rescales to [0, 1] and normalizes."""

    model_input_names = ["pixel_values"]

    def __init__(
        self,
        size: dict[str, int] | None = None,
        image_mean: float = FER2013_MEAN,
        image_std: float = FER2013_STD,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.size = dict(size or DEFAULT_SIZE)
        self.image_mean = float(image_mean)
        self.image_std = float(image_std)

    def face_pixels(self) -> FacePixels:
        """This processor's steps, as numpy code."""
        return FacePixels(dict(self.size), self.image_mean, self.image_std)

    def to_model_input(self, image) -> np.ndarray:
        """One image -> a (1, height, width) float32 array, normalized."""
        return self.face_pixels().to_model_input(image)

    def resized_gray(self, image) -> np.ndarray:
        """One image -> its 8-bit gray levels at the model's size, a (height, width) uint8 array."""
        return self.face_pixels().resized_gray(image)

    def normalize(self, gray: np.ndarray) -> np.ndarray:
        """8-bit gray levels (any shape) -> float32 model input values."""
        return self.face_pixels().normalize(gray)

    def preprocess(self, images, return_tensors: str | None = "pt", **kwargs) -> BatchFeature:
        if not isinstance(images, (list, tuple)):
            images = [images]
        return BatchFeature(data={"pixel_values": self.face_pixels().pixel_values(images)}, tensor_type=return_tensors)
