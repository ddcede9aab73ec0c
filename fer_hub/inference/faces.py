"""Faces in a photo: RetinaFace (MobileNet-0.25, weights in `face_models/`) on onnxruntime gives each face's box
[x, y, w, h] and eye centres in the coordinates of the given image; `face_crop` frames a face as FER2013 does and
turns it upright by its eyes; `boxes_in_image` checks face boxes that a caller gives instead of detection. The
detection and framing are `fer_hub.models.face_detection` (self-contained, so model folders carry a copy of it)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from ..errors import FerHubError, ParameterError
from ..models import face_detection
from ..models.face_detection import (  # noqa: F401  (the names fer_hub's callers import from here)
    DETECTOR_FILE,
    FRAME_RAISE,
    FRAME_SIDE,
    MIN_TILT,
    Box,
    FaceBox,
    Point,
    area_resize,
    face_crop,
)

DETECTOR_NAME = "RetinaFace (MobileNet-0.25)"
WEIGHTS = Path(__file__).resolve().parents[1] / "face_models" / DETECTOR_FILE
MAX_BOXES_PER_IMAGE = 100  # caller-supplied face boxes one image may carry (`--boxes`, the demo's /predict)


class FaceDetector(face_detection.FaceDetector):
    """`fer_hub.models.face_detection.FaceDetector` with fer_hub's copy of the weights (WEIGHTS)."""

    def __init__(
        self, max_side: int = 1024, score_threshold: float = 0.8, nms_threshold: float = 0.4, threads: int = 1
    ):
        super().__init__(WEIGHTS, max_side, score_threshold, nms_threshold, threads)


def boxes_in_image(boxes: Sequence[Sequence[float]], size: tuple[int, int], scale: float = 1.0) -> list[Box]:
    """Caller-supplied face boxes [x, y, w, h], given in the pixels of an image `scale` times larger than `size`
    (the file, when `size` is its downscaled copy), as whole-pixel boxes of `size`. A box that is not four numbers,
    has no width or height, or reaches outside the image is a FerHubError naming it."""
    check_box_count(boxes)
    width, height = size
    file_width, file_height = round(width * scale), round(height * scale)
    slack = 0.0 if scale == 1.0 else scale  # the file's size is known to within one pixel of the copy
    checked = []
    for number, box in enumerate(boxes, start=1):
        values = _numbers(box)
        if values is None:
            raise FerHubError(f"box {number} {box!r}: expected four numbers x, y, width, height")
        x, y, w, h = values
        if w <= 0 or h <= 0:
            raise FerHubError(f"box {number} {_show(values)}: width and height must be more than 0")
        if x < 0 or y < 0 or x + w > width * scale + slack or y + h > height * scale + slack:
            raise FerHubError(f"box {number} {_show(values)} reaches outside the {file_width} x {file_height} image")
        left, top = math.floor(x / scale), math.floor(y / scale)
        right, bottom = min(width, math.ceil((x + w) / scale)), min(height, math.ceil((y + h) / scale))
        checked.append((left, top, max(1, right - left), max(1, bottom - top)))
    return checked


def check_box_count(boxes, field: str = "boxes", limit: int = MAX_BOXES_PER_IMAGE) -> None:
    """A ParameterError naming `field` and the limit when more than `limit` face boxes are given for one image: the
    check runs on the list as given, before any image is read or any face cropped."""
    if boxes is not None and not isinstance(boxes, (list, tuple)):
        raise ParameterError(field, f"expected a list of [x, y, width, height] boxes, not {type(boxes).__name__}")
    if boxes and len(boxes) > limit:
        raise ParameterError(field, f"{len(boxes):,} face boxes given, over the limit of {limit:,} per image")


def _numbers(box: Sequence[float]) -> tuple[float, float, float, float] | None:
    if isinstance(box, (str, bytes)):
        return None
    try:
        values = tuple(float(value) for value in box)
    except (TypeError, ValueError):
        return None
    if len(values) != 4 or not all(math.isfinite(value) for value in values):
        return None
    return values


def _show(values: tuple[float, ...]) -> list:
    return [int(value) if value.is_integer() else value for value in values]
