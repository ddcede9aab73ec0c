"""Face detection with OpenCV's Haar cascades: boxes [x, y, w, h] in the coordinates of the given image."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]
DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"


class FaceDetector:
    """Finds frontal faces. The image is shrunk so its longer side is at most `max_side` before detecting
    (speed), so the smallest face found spans about `min_size / max_side` of the image's longer side: 43 pixels
    of a 640x480 photo with the defaults, close to the 48x48 the models see anyway."""

    def __init__(
        self,
        cascade: str = DEFAULT_CASCADE,
        max_side: int = 360,
        scale_factor: float = 1.2,
        min_neighbors: int = 5,
        min_size: int = 24,
    ):
        self.cascade_path = str(Path(cv2.data.haarcascades) / cascade)
        if cv2.CascadeClassifier(self.cascade_path).empty():
            raise FileNotFoundError(f"OpenCV cannot load the cascade {self.cascade_path}")
        self.max_side = max_side
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_size = min_size
        self._local = threading.local()  # a CascadeClassifier must not be shared between threads

    def _cascade(self) -> cv2.CascadeClassifier:
        if not hasattr(self._local, "cascade"):
            self._local.cascade = cv2.CascadeClassifier(self.cascade_path)
        return self._local.cascade

    def detect(self, image: Image.Image | np.ndarray) -> list[Box]:
        """Boxes of the faces in an RGB PIL image or an RGB/gray uint8 array, largest first."""
        gray = _gray_uint8(image)
        height, width = gray.shape
        shrink = min(1.0, self.max_side / max(width, height))
        if shrink < 1.0:
            size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        found = self._cascade().detectMultiScale(
            cv2.equalizeHist(gray), scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
        )
        boxes = [_to_original(box, shrink, width, height) for box in np.asarray(found).reshape(-1, 4)]
        return sorted(boxes, key=lambda box: box[2] * box[3], reverse=True)


def _to_original(box: np.ndarray, shrink: float, width: int, height: int) -> Box:
    x, y, w, h = (round(float(value) / shrink) for value in box)
    x, y = min(x, width - 1), min(y, height - 1)
    return x, y, min(w, width - x), min(h, height - y)


def _gray_uint8(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("L"))
    array = np.asarray(image)
    if array.ndim == 3:
        return cv2.cvtColor(array[..., :3].astype(np.uint8, copy=False), cv2.COLOR_RGB2GRAY)
    return array.astype(np.uint8, copy=False)
