"""Test videos made on the spot: skimage's astronaut face (and its mirror image) moving over a softened photo of a
coffee cup (no face in it), written with OpenCV. Also used by benchmarks/video.py and docs/video_example.py."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".webm": "VP80"}
HEAD = (17, 217, 121, 321)  # rows, columns of a 200x200 crop of the astronaut around her face
FACE_SIDE = 160  # the head crop as pasted into the frames


def pictures(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    from skimage import data

    photo = data.astronaut()
    background = cv2.resize(cv2.GaussianBlur(data.coffee(), (0, 0), 5), size)
    top, bottom, left, right = HEAD
    head = cv2.resize(photo[top:bottom, left:right], (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_AREA)
    return background, head


def face_positions(faces: int, frame: int, size: tuple[int, int]) -> list[tuple[int, int]]:
    """Top-left corners of the pasted heads in a frame of `size`: one face moving right and back, 5 px a frame;
    two faces, the left one moving down and the mirrored right one moving up (and back), 2 px a frame; or four,
    one per quarter of the frame, each moving sideways 2 px a frame."""
    width, height = size

    def bounce(step: int, span: int) -> int:
        offset = step * frame % (2 * span)
        return offset if offset <= span else 2 * span - offset

    if faces == 1:
        return [(20 + bounce(5, width - FACE_SIDE - 40), (height - FACE_SIDE) // 2)]
    if faces == 2:
        span = height - FACE_SIDE - 40
        return [(20, 20 + bounce(2, span)), (width - FACE_SIDE - 20, 20 + span - bounce(2, span))]
    assert faces == 4 and width >= 2 * FACE_SIDE + 40 and height >= 2 * FACE_SIDE, "four faces need 360x320 or more"
    span = width // 2 - FACE_SIDE - 20
    return [
        (column * width // 2 + 10 + bounce(2, span), row * height // 2 + (height // 2 - FACE_SIDE) // 2)
        for row in (0, 1)
        for column in (0, 1)
    ]


def write_clip(
    path: Path, faces: int = 1, frames: int = 40, fps: float = 25.0, size: tuple[int, int] = (480, 360)
) -> Path:
    """A clip of `frames` frames of `size` (width, height) at `fps` with 1, 2 or 4 moving faces (every other one
    mirrored); the codec follows the suffix."""
    background, head = pictures(size)
    heads = [head, head[:, ::-1]] * 2
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*FOURCC[path.suffix]), fps, size)
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    for frame in range(frames):
        picture = background.copy()
        for (x, y), pasted in zip(face_positions(faces, frame, size), heads):
            picture[y : y + FACE_SIDE, x : x + FACE_SIDE] = pasted
        writer.write(cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    writer.release()
    return path
