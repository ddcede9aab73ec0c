"""Faces across video frames: the face detector run at least every so often with the faces carried over to the
frames between (`DetectionSchedule`), a stable id per face (greedy matching with the faces of recent frames, by IoU, then
by distance for faces that moved further than their overlap between sampled frames) and optional smoothing of
each face's scores over time (an exponential moving average)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..errors import ParameterError
from ..inference.faces import Box, FaceBox

DETECT_INTERVAL_S = 0.1  # default: detect faces on a frame at least this often (every 3rd frame at 25-30 fps)


def check_detect_interval(interval_s: float) -> float:
    """`interval_s` if it is a number of seconds >= 0, else a ParameterError naming `detect_interval`."""
    if not (isinstance(interval_s, (int, float)) and math.isfinite(interval_s) and interval_s >= 0):
        raise ParameterError("detect_interval", f"must be 0 or more seconds, not {interval_s}")
    return interval_s


class DetectionSchedule:
    """Which analysed frames run the face detector: the first, and then each one `interval_s` or more seconds of video
    after the last detection (0: every analysed frame); the frames between keep the last detection's faces (boxes and
    eyes), which in 0.1 s of video move a few pixels. The tracker and classifier see every frame."""

    def __init__(self, interval_s: float = DETECT_INTERVAL_S):
        self.interval_s = check_detect_interval(interval_s)
        self._last: tuple[float, list[FaceBox]] | None = None  # time of the last detection, its faces

    def faces(self, time_s: float, detect: Callable[[np.ndarray], list[FaceBox]], frame: np.ndarray) -> list[FaceBox]:
        """The faces of the frame at `time_s` (frames in time order): `detect(frame)` when a detection is due."""
        if self._last is None or time_s - self._last[0] >= self.interval_s - 1e-6:
            self._last = (time_s, detect(frame))
        return self._last[1]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes x, y, w, h."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    overlap = max(0, min(ax + aw, bx + bw) - max(ax, bx)) * max(0, min(ay + ah, by + bh) - max(ay, by))
    union = aw * ah + bw * bh - overlap
    return overlap / union if union > 0 else 0.0


def center_distance(a: Box, b: Box) -> float:
    """Distance between the boxes' centres, in widths of the wider box."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return math.hypot(ax + aw / 2 - bx - bw / 2, ay + ah / 2 - by - bh / 2) / max(aw, bw, 1)


class IouTracker:
    """Gives each face box an id it keeps from frame to frame: a frame's boxes are matched to the faces seen in
    the last `max_gap_s` seconds, the pairs that overlap most first (IoU at least `min_iou`), then the nearest
    (centres at most `max_shift` face widths apart, sizes within a factor `max_scale`: a face that moved far
    between sparsely sampled frames); a box that matches none starts a new id (1, 2, ...). A face missed by the
    detector for less than `max_gap_s` keeps its id."""

    def __init__(self, min_iou: float = 0.3, max_gap_s: float = 1.0, max_shift: float = 1.0, max_scale: float = 1.5):
        self.min_iou = min_iou
        self.max_gap_s = max_gap_s
        self.max_shift = max_shift
        self.max_scale = max_scale
        self._last_seen: dict[int, tuple[Box, float]] = {}  # face id -> its latest box and time
        self._next_id = 1

    @property
    def active_ids(self) -> set[int]:
        return set(self._last_seen)

    def update(self, boxes: list[Box], time_s: float) -> list[int]:
        """The id of each box of the frame at `time_s` (frames in time order)."""
        self._last_seen = {
            face_id: seen for face_id, seen in self._last_seen.items() if time_s - seen[1] <= self.max_gap_s
        }
        pairs = sorted(  # best first: more overlap, then nearer
            (-iou(box, seen_box), center_distance(box, seen_box), index, face_id)
            for index, box in enumerate(boxes)
            for face_id, (seen_box, _) in self._last_seen.items()
            if self._may_match(box, seen_box)
        )
        ids: list[int | None] = [None] * len(boxes)
        for _, _, index, face_id in pairs:
            if ids[index] is None and face_id not in ids:
                ids[index] = face_id
        for index, box in enumerate(boxes):
            if ids[index] is None:
                ids[index], self._next_id = self._next_id, self._next_id + 1
            self._last_seen[ids[index]] = (box, time_s)
        return ids

    def _may_match(self, box: Box, seen_box: Box) -> bool:
        if iou(box, seen_box) >= self.min_iou:
            return True
        similar_size = max(box[2], seen_box[2]) <= self.max_scale * max(1, min(box[2], seen_box[2]))
        return similar_size and center_distance(box, seen_box) <= self.max_shift


class ScoreSmoother:
    """Each face's scores averaged over about the last `seconds`: after `dt` seconds its smoothed scores move
    `1 - exp(-dt / seconds)` of the way to the new ones (an exponential moving average that adapts to any
    frame sampling). The average of probability vectors is one too."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._state: dict[int, tuple[np.ndarray, float]] = {}  # face id -> smoothed scores, time

    def smooth(self, face_id: int, scores: np.ndarray, time_s: float) -> np.ndarray:
        if face_id in self._state:
            previous, previous_time = self._state[face_id]
            weight = 1.0 - math.exp(-max(0.0, time_s - previous_time) / self.seconds)
            scores = previous + weight * (scores - previous)
        self._state[face_id] = (scores, time_s)
        return scores

    def retain(self, face_ids: set[int]) -> None:
        """Forget the faces not in `face_ids` (those whose tracks ended), so memory stays bounded."""
        self._state = {face_id: state for face_id, state in self._state.items() if face_id in face_ids}
