"""Faces in a photo with RetinaFace (MobileNet-0.25) on onnxruntime: each face's box [x, y, w, h] and eye centres in
the coordinates of the given image, and `face_crop`, which frames a face as FER2013 does and turns it upright by its
eyes.

Self-contained (numpy, PIL and onnxruntime only): fer_hub's detector (`fer_hub.inference.faces`) uses this module, and
every saved model folder carries a byte-identical copy of it next to the ONNX weights (DETECTOR_FILE) for the folder's
face-aware pipeline (`pipeline_fer.py`), so the folder finds faces without fer_hub installed; onnxruntime must then be
installed where the pipeline runs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnxruntime
from PIL import Image

Box = tuple[int, int, int, int]
Point = tuple[float, float]
DETECTOR_FILE = "retinaface_mobilenet0.25.onnx"  # the network's weights, shipped next to this file in model folders
MEAN_BGR = np.array([104.0, 117.0, 123.0], np.float32)  # the network's input is BGR minus this mean
ANCHORS = ((8, (16, 32)), (16, (64, 128)), (32, (256, 512)))  # (stride, anchor sizes in pixels) of its three levels
VARIANCES = (0.1, 0.2)  # centre and size scales of the box and landmark offsets
MIN_TILT = 8.0  # degrees of eye tilt below which a face is not turned (FER2013 faces lean too; landmarks are rough)
FRAME_SIDE = 0.95  # a detected face's crop is a square with this much of its box's longer side, centred
FRAME_RAISE = 0.05  # this much of the box's height above the box's centre (FER2013's framing, for RetinaFace's boxes)


@dataclass(frozen=True)
class FaceBox:
    """A face's box [x, y, w, h] and, for a detected face, its eye centres (the one on the image's left first)."""

    box: Box
    eyes: tuple[Point, Point] | None = None

    @property
    def tilt(self) -> float:
        """Degrees the eye line turns clockwise (as seen) from level; 0 when the eyes are not known."""
        if self.eyes is None:
            return 0.0
        (left_x, left_y), (right_x, right_y) = self.eyes
        return math.degrees(math.atan2(right_y - left_y, right_x - left_x))


class FaceDetector:
    """Finds faces, frontal or turned, from about 20 pixels wide. Images whose longer side exceeds `max_side` are
    shrunk to it first (speed, and the network's largest anchors are 512 pixels); smaller ones are used as they are.
    One detector may serve several threads at once."""

    def __init__(
        self,
        weights: str | Path | None = None,
        max_side: int = 1024,
        score_threshold: float = 0.8,
        nms_threshold: float = 0.4,
        threads: int = 1,
    ):
        """`weights`: the ONNX file (default: DETECTOR_FILE next to this module)."""
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        weights = Path(__file__).resolve().parent / DETECTOR_FILE if weights is None else weights
        self.session = onnxruntime.InferenceSession(str(weights), options, providers=["CPUExecutionProvider"])
        self.max_side = max_side
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold

    def detect(self, image: Image.Image | np.ndarray) -> list[FaceBox]:
        """The faces of an RGB PIL image or an RGB/RGBA/gray uint8 array, largest first."""
        rgb = _rgb_uint8(image)
        height, width = rgb.shape[:2]
        shrink = min(1.0, self.max_side / max(width, height))
        if shrink < 1.0:
            size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
            rgb = area_resize(rgb, size)
        padded = _padded_bgr(rgb)
        offsets, scores, landmarks = self.session.run(None, {"input": padded.transpose(2, 0, 1)[None]})
        anchors = _anchors(*padded.shape[:2])
        keep = np.flatnonzero(scores[0, :, 1] > self.score_threshold)
        centres, sizes = anchors[keep, :2], anchors[keep, 2:]
        offsets, landmarks = offsets[0, keep], landmarks[0, keep].reshape(-1, 5, 2)
        box_centres = centres + offsets[:, :2] * VARIANCES[0] * sizes
        box_sizes = sizes * np.exp(offsets[:, 2:] * VARIANCES[1])
        corners = np.hstack([box_centres - box_sizes / 2, box_centres + box_sizes / 2]) / shrink
        points = (centres[:, None] + landmarks * VARIANCES[0] * sizes[:, None]) / shrink
        chosen = _nms(corners, scores[0, keep, 1], self.nms_threshold)
        faces = [_face_box(corners[index], points[index], width, height) for index in chosen]
        return sorted(
            (face for face in faces if face is not None), key=lambda face: face.box[2] * face.box[3], reverse=True
        )


def face_crop(image: Image.Image, face: FaceBox) -> Image.Image:
    """What the classifier sees of a face. A detected face (eyes known): a square of FRAME_SIDE times its box's
    longer side, centred FRAME_RAISE of the box's height above the box's centre (FER2013's framing of a face, for
    RetinaFace's boxes: fer-hub's benchmarks/results/face_upright.md), turned about its centre so that the eyes are level when
    they tilt MIN_TILT or more; outside the image, black. A caller's box (no eyes): the box as it is."""
    x, y, w, h = face.box
    if face.eyes is None:
        return image.crop((x, y, x + w, y + h))
    side = max(1, round(max(w, h) * FRAME_SIDE))
    centre_x, centre_y = x + w / 2, y + h / 2 - FRAME_RAISE * h
    if abs(face.tilt) < MIN_TILT:
        left, top = round(centre_x - side / 2), round(centre_y - side / 2)
        return image.crop((left, top, left + side, top + side))
    reach = math.ceil(side / math.sqrt(2)) + 1  # the turned square lies within this of its centre
    left, top = round(centre_x) - reach, round(centre_y) - reach
    region = image.crop((left, top, left + 2 * reach, top + 2 * reach))
    cx, cy = centre_x - left, centre_y - top
    upright = region.rotate(face.tilt, resample=Image.Resampling.BILINEAR, center=(cx, cy))
    corner_x, corner_y = round(cx - side / 2), round(cy - side / 2)
    return upright.crop((corner_x, corner_y, corner_x + side, corner_y + side))


def _face_box(corners: np.ndarray, points: np.ndarray, width: int, height: int) -> FaceBox | None:
    left, top = max(0, round(corners[0])), max(0, round(corners[1]))
    right, bottom = min(width, round(corners[2])), min(height, round(corners[3]))
    if right <= left or bottom <= top:
        return None
    eyes = (tuple(map(float, points[0])), tuple(map(float, points[1])))
    return FaceBox((left, top, right - left, bottom - top), eyes)


def area_resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`rgb` (H, W, C uint8) shrunk to `size` (width, height), each output pixel the mean of the source area it
    covers, partly covered pixels weighted by the part covered: OpenCV's INTER_AREA (to within 1 in a few pixels)."""
    width, height = size
    if rgb.shape[:2] == (2 * height, 2 * width):  # the common case (2048 -> 1024): OpenCV's 2x2 sum, halves up
        pairs = rgb[0::2].astype(np.uint16) + rgb[1::2]
        return ((pairs[:, 0::2] + pairs[:, 1::2] + 2) >> 2).astype(np.uint8)
    rows = _shrink_axis(rgb.astype(np.float32), height, axis=0)
    return np.clip(np.rint(_shrink_axis(rows, width, axis=1)), 0, 255).astype(np.uint8)


def _shrink_axis(values: np.ndarray, target: int, axis: int) -> np.ndarray:
    """`values` shrunk to `target` along `axis`: output pixel i covers source positions [i * s, (i + 1) * s) with
    s = source / target; each source pixel weighs by how much of it lies inside over the span's length (overlaps of
    1e-3 or less left out, as OpenCV does)."""
    source = values.shape[axis]
    scale = source / target
    starts = np.arange(target) * scale
    ends = np.minimum(starts + scale, source)
    first = np.floor(starts).astype(np.int64)
    shape = [1] * values.ndim
    shape[axis] = target
    shrunk = np.zeros((*values.shape[:axis], target, *values.shape[axis + 1 :]), np.float32)
    for step in range(math.ceil(scale) + 1):  # the source pixels an output pixel can touch
        pixels = first + step
        overlap = np.clip(np.minimum(pixels + 1, ends) - np.maximum(pixels, starts), 0, None)
        overlap[overlap <= 1e-3] = 0
        weights = (overlap / (ends - starts)).astype(np.float32).reshape(shape)
        shrunk += np.take(values, np.minimum(pixels, source - 1), axis=axis) * weights
    return shrunk


def _padded_bgr(rgb: np.ndarray) -> np.ndarray:
    """The network's input: BGR minus the mean, float32, padded with zeros (the mean) to multiples of 32."""
    height, width = rgb.shape[:2]
    padded = np.zeros((-(-height // 32) * 32, -(-width // 32) * 32, 3), np.float32)
    padded[:height, :width] = rgb[..., ::-1] - MEAN_BGR
    return padded


@lru_cache(maxsize=16)
def _anchors(height: int, width: int) -> np.ndarray:
    """(A, 4) anchor centres and sizes in pixels, in the network's output order: level, row, column, size."""
    levels = []
    for stride, sizes in ANCHORS:
        rows, columns = np.mgrid[0 : height // stride, 0 : width // stride]
        centres = (np.stack([columns.ravel(), rows.ravel()], axis=1) + 0.5) * stride
        sides = np.tile(sizes, len(centres)).astype(np.float32)[:, None].repeat(2, axis=1)
        levels.append(np.hstack([np.repeat(centres, len(sizes), axis=0), sides]))
    return np.vstack(levels).astype(np.float32)


def _nms(corners: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Indices of the boxes kept by greedy non-maximum suppression, best first: a box overlapping a better one with
    an IoU above `threshold` is dropped."""
    areas = np.prod(corners[:, 2:] - corners[:, :2], axis=1)
    order, kept = np.argsort(-scores), []
    while order.size:
        best, rest = order[0], order[1:]
        kept.append(int(best))
        sides = np.minimum(corners[best, 2:], corners[rest, 2:]) - np.maximum(corners[best, :2], corners[rest, :2])
        overlap = np.prod(np.clip(sides, 0, None), axis=1)
        order = rest[overlap / (areas[best] + areas[rest] - overlap) <= threshold]
    return kept


def _rgb_uint8(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image).astype(np.uint8, copy=False)
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=2)
    return array[..., :3]
