"""Videos, streamed: frames read with OpenCV (all, every Nth or F per second), the faces of several frames
classified together, each face given an id it keeps across frames, scores optionally smoothed over time, and an
annotated copy written as the frames go by. Memory does not grow with the video's length. OpenCV comes with the
`video` extra: this module imports it when a video is opened, so images need no OpenCV.

    for frame in fer_hub.analyze_video("clip.mp4", every=5):
        frame.time_s, [(face.face_id, face.label) for face in frame.faces]
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ..errors import FerHubError, ParameterError
from ..inference.classifier import ModelReferences, batches
from ..inference.recognizer import EmotionRecognizer, Face, get_recognizer
from ..labels import LABELS
from ..optional import require, require_installed
from ..output_paths import check_outputs, replaced_file
from .annotation import draw_faces
from .tracking import DETECT_INTERVAL_S, DetectionSchedule, IouTracker, ScoreSmoother

WRITER_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG", ".webm": "VP80"}
BATCH_FRAMES = 8  # frames whose faces are classified in one forward pass
MIN_TRACK_GAP_S = 1.0  # a face missed for less than this (or 2.5 sampled frames) keeps its id


def opencv() -> ModuleType:
    """The `cv2` module; without OpenCV installed, a FerHubError naming the `video` extra."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # read at FFmpeg's first use: its messages stay off stderr
    return require("cv2", "video", "reading and writing videos")


def require_video_support() -> None:
    """A FerHubError naming the `video` extra unless what videos need (OpenCV, and matplotlib for their timeline
    plots) is installed: for commands to call before they start on a video. Imports neither."""
    require_installed("cv2", "video", "reading and writing videos")
    require_installed("matplotlib", "video", "the video timeline plot")


@dataclass(frozen=True)
class TrackedFace(Face):
    """A face with the id it keeps across the frames of a video (1, 2, ...; per image: 1..n, largest first)."""

    face_id: int


@dataclass(frozen=True)
class FrameResult:
    """The faces of one video frame or one image. `frame` (0-based) and `time_s` are None for an image."""

    source: str
    frame: int | None
    time_s: float | None
    faces: list[TrackedFace]


@dataclass(frozen=True)
class Sampling:
    """Which frames to analyse: every `every`-th, or about `fps` per second (all when the video has fewer)."""

    every: int = 1
    fps: float | None = None

    def __post_init__(self):
        if self.every < 1:
            raise ParameterError("every", f"must be a whole number >= 1, not {self.every}")
        if self.fps is not None and not self.fps > 0:
            raise ParameterError("fps", f"must be above 0, not {self.fps}")
        if self.fps is not None and self.every != 1:
            raise ParameterError("fps", "give `every` or `fps`, not both")

    def keeps(self, index: int, video_fps: float) -> bool:
        if self.fps is None:
            return index % self.every == 0
        rate = min(self.fps, video_fps) / video_fps  # samples per frame
        return index == 0 or math.floor(index * rate) != math.floor((index - 1) * rate)

    def count(self, frame_count: int, video_fps: float) -> int:
        """How many of `frame_count` frames are analysed."""
        if self.fps is None:
            return -(-frame_count // self.every)
        return math.floor((frame_count - 1) * min(self.fps, video_fps) / video_fps) + 1 if frame_count else 0

    def rate(self, video_fps: float) -> float:
        """Analysed frames per second of video."""
        return video_fps / self.every if self.fps is None else min(self.fps, video_fps)


class VideoReader:
    """An open video file: its frame rate, declared frame count and size, and its frames as RGB arrays. Anything
    that cannot be read (no file, not a video, truncated or corrupt) is a `FerHubError` naming the file."""

    def __init__(self, path: str | Path, name: str | None = None):
        path = Path(path)
        self.name = name or str(path)
        if not path.is_file():
            raise FerHubError(f"{self.name}: no such file")
        if path.stat().st_size == 0:
            raise FerHubError(f"{self.name}: the file is empty (0 bytes)")
        cv2 = self._cv2 = opencv()
        self._capture = cv2.VideoCapture(str(path))
        if not self._capture.isOpened():
            raise FerHubError(
                f"{self.name}: not a readable video (an unknown format, or the file is truncated or corrupt)"
            )
        self.fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        self.frame_count = max(0, int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)))  # 0: not declared
        self.width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if not (math.isfinite(self.fps) and 0 < self.fps <= 1000):
            self.close()
            raise FerHubError(f"{self.name}: the video does not state a usable frame rate ({self.fps})")

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps

    def frames(self, sampling: Sampling = Sampling()) -> Iterator[tuple[int, float, np.ndarray]]:
        """(index from 0, time in seconds, RGB uint8 array) of each sampled frame; skipped frames are not
        converted. A video that stops before the frame count it declares is truncated: a FerHubError after the
        frames that could be read."""
        index = 0
        while True:
            keep = sampling.keeps(index, self.fps)
            if keep:
                ok, frame = self._capture.read()
            else:
                ok = self._capture.grab()
            if not ok:
                break
            if keep:
                yield index, index / self.fps, self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2RGB)
            index += 1
        if index == 0:
            raise FerHubError(f"{self.name}: no frame could be decoded (the file is truncated or corrupt)")
        if index < self.frame_count - max(2, self.frame_count // 100):  # declared counts may be estimates
            raise FerHubError(
                f"{self.name}: the video stops at frame {index} of the {self.frame_count} it declares "
                f"(truncated or corrupt); the frames before were analysed"
            )

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class VideoWriter:
    """Writes RGB frames to a video file, the codec chosen by the suffix (.mp4/.mov: MPEG-4 part 2, .avi:
    Motion JPEG, .webm: VP8, which browsers play). The frame size is that of the first frame."""

    def __init__(self, path: str | Path, fps: float):
        self.path = Path(path)
        if self.path.suffix.lower() not in WRITER_CODECS:
            raise FerHubError(f"{self.path}: an annotated video must end in one of {', '.join(WRITER_CODECS)}")
        self.fps = fps
        self._cv2 = opencv()
        self._writer = None  # a cv2.VideoWriter once the first frame gives the size

    def write(self, frame: Image.Image | np.ndarray) -> None:
        rgb, cv2 = np.asarray(frame), self._cv2
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*WRITER_CODECS[self.path.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (rgb.shape[1], rgb.shape[0]))
            if not self._writer.isOpened():
                raise FerHubError(f"{self.path}: OpenCV cannot write this video")
        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def check_annotation_path(annotate: str | Path) -> Path:
    """`annotate` if it names a video file VideoWriter writes (by its suffix), else a ParameterError."""
    annotate = Path(annotate)
    if annotate.suffix.lower() not in WRITER_CODECS:
        raise ParameterError(
            "annotate", f"{annotate}: an annotated video must end in one of {', '.join(WRITER_CODECS)}"
        )
    return annotate


def checked_sampling(every: int = 1, fps: float | None = None, smooth: float | None = None) -> Sampling:
    """The frame sampling of `every` or `fps`, once these and `smooth` are checked (a FerHubError names a bad one)."""
    if smooth is not None and not smooth > 0:
        raise ParameterError("smooth", f"must be above 0 seconds, not {smooth}")
    return Sampling(every, fps)


def analyze_video(
    path: str | Path,
    model: ModelReferences | EmotionRecognizer = None,
    *,
    every: int = 1,
    fps: float | None = None,
    smooth: float | None = None,
    tta: bool = False,
    annotate: str | Path | None = None,
    progress: bool = False,
    trust_remote_code: bool = False,
    detect_interval: float = DETECT_INTERVAL_S,
    device: str | None = None,
) -> Iterator[FrameResult]:
    """The faces of a video's frames, one `FrameResult` per analysed frame (also those without a face), as the
    video is read.

    Args:
        path: a video file OpenCV reads (mp4, mov, avi, mkv, webm).
        model: a model reference or several (their ensemble; see `fer_hub.inference.recognizer.get_recognizer`), or a ready
            `EmotionRecognizer`; None: the embedded model.
        every: analyse every N-th frame.
        fps: instead, analyse about F frames per second.
        smooth: average each face's scores over about this many seconds (exponential moving average).
        tta: average each face with its mirror image.
        annotate: also write the analysed frames with boxes, face ids and labels to this video file (to a temporary
            file renamed to it once the whole video is read; a failure, Ctrl-C or stopping early leaves what was
            there before).
        progress: a progress bar (frames/s, time left) on stderr.
        detect_interval: run the face detector on an analysed frame at least this many seconds of video after the
            last detection; the frames between keep its faces (0: detect on every analysed frame).
        device: where the models run (see `fer_hub.inference.devices`).

    Raises:
        FerHubError: the file cannot be read, or stops early (after the frames that could be read).
        ParameterError: `annotate` has no video suffix, is a folder, or is the video itself.
    """
    sampling = checked_sampling(every, fps, smooth)
    schedule = DetectionSchedule(detect_interval)
    recognizer = model if isinstance(model, EmotionRecognizer) else get_recognizer(model, trust_remote_code, device)
    if annotate:
        check_annotation_path(annotate)
        check_outputs([("annotate", annotate)], inputs=[path])  # not the video itself, nor a folder
    with VideoReader(path) as video:
        rate = sampling.rate(video.fps)
        tracker = IouTracker(max_gap_s=max(MIN_TRACK_GAP_S, 2.5 / rate))
        smoother = ScoreSmoother(smooth) if smooth else None
        total = sampling.count(video.frame_count, video.fps) or None
        bar = tqdm(total=total, unit="frame", desc=Path(path).name, disable=not progress, file=sys.stderr)
        with ExitStack() as stack:
            stack.callback(bar.close)
            writer = None
            if annotate:
                writer = stack.enter_context(VideoWriter(stack.enter_context(replaced_file(annotate)), rate))
            for chunk in batches(video.frames(sampling), BATCH_FRAMES):
                images = [Image.fromarray(rgb) for _, _, rgb in chunk]
                found = [schedule.faces(time_s, recognizer.detector.detect, rgb) for _, time_s, rgb in chunk]
                for (index, time_s, _), image, faces in zip(chunk, images, recognizer.classify(images, found, tta)):
                    result = FrameResult(str(path), index, time_s, _track(faces, time_s, tracker, smoother))
                    if writer:
                        writer.write(draw_faces(image, result.faces, numbers=[face.face_id for face in result.faces]))
                    bar.update()
                    yield result


def _track(faces: list[Face], time_s: float, tracker: IouTracker, smoother: ScoreSmoother | None) -> list[TrackedFace]:
    ids = tracker.update([face.box for face in faces], time_s)
    if smoother is None:
        return [TrackedFace(face.box, face.scores, face_id) for face, face_id in zip(faces, ids)]
    smoother.retain(tracker.active_ids)
    tracked = []
    for face, face_id in zip(faces, ids):
        scores = smoother.smooth(face_id, np.array([face.scores[name] for name in LABELS]), time_s)
        tracked.append(TrackedFace(face.box, dict(zip(LABELS, map(float, scores))), face_id))
    return tracked
