"""Face-detection test scenes with known face boxes, and the score a detector gets on them. Used by the face tests
and by benchmarks/face_detection.py (which puts this folder on its path).

- the shared group photos (`../shared/datasets/group-photos/`: four PASCAL VOC photos, 18 hand-drawn boxes);
- four photos built from scikit-image's astronaut that the old detector (Haar cascade on a 360-pixel copy) missed:
  a face filling a 1280x720 frame, two faces side by side, a 3000-pixel face in a 6000x4000 photo, a collage
  of seven faces.

Scoring as the group photos' README says: a truth box is found when a detection overlaps it with IoU >= 0.3,
each detection matching at most one truth box; detections matching none are false boxes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

GROUP_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "group-photos"
ASTRONAUT_FACE = (178, 68, 96, 114)  # x, y, w, h of the face in skimage's 512x512 astronaut (hairline to chin, by eye)
MIN_IOU = 0.3
CASES = ("face_filling_1280x720", "two_faces_1024x512", "face_3000px_in_6000x4000", "collage_of_seven")

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Scene:
    name: str
    image: np.ndarray  # RGB uint8
    faces: list[Box]  # truth boxes x, y, w, h


def iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    width = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    height = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    overlap = width * height
    return overlap / (aw * ah + bw * bh - overlap)


def match(truth: list[Box], found: list[Box]) -> tuple[int, int]:
    """(truth boxes found, false boxes): greedy one-to-one matching by IoU, best pairs first."""
    pairs = sorted(((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)), reverse=True)
    used_truth, used_found = set(), set()
    for overlap, i, j in pairs:
        if overlap < MIN_IOU:
            break
        if i not in used_truth and j not in used_found:
            used_truth.add(i)
            used_found.add(j)
    return len(used_truth), len(found) - len(used_found)


def group_photos(folder: Path = GROUP_PHOTOS) -> list[Scene]:
    """The shared group photos with their hand-drawn face boxes (`boxes.xml`)."""
    scenes = []
    for entry in ElementTree.parse(folder / "boxes.xml").getroot().iter("image"):
        boxes = [
            (float(box.get("left")), float(box.get("top")), float(box.get("width")), float(box.get("height")))
            for box in entry.iter("box")
        ]
        image = np.asarray(Image.open(folder / entry.get("file")).convert("RGB"))
        scenes.append(Scene(entry.get("file"), image, boxes))
    return scenes


def _scaled(box: Box, scale: float, dx: float = 0.0, dy: float = 0.0) -> Box:
    x, y, w, h = box
    return x * scale + dx, y * scale + dy, w * scale, h * scale


def _mirrored(box: Box, width: float) -> Box:
    x, y, w, h = box
    return width - x - w, y, w, h


def astronaut_scenes() -> list[Scene]:
    """The four photos the Haar detector missed (named as in CASES), each built from skimage's astronaut."""
    from skimage import data

    photo = Image.fromarray(data.astronaut())
    fx, fy, fw, fh = ASTRONAUT_FACE
    scenes = []

    # one face filling a 1280x720 frame: the face box (114 px) scaled to the full 720 rows
    scale = 720 / fh
    left = fx + fw / 2 - 640 / scale
    frame = photo.resize((1280, 720), Image.Resampling.LANCZOS, box=(left, fy, left + 1280 / scale, fy + fh))
    scenes.append(
        Scene("face_filling_1280x720", np.asarray(frame), [_scaled(ASTRONAUT_FACE, scale, -left * scale, -fy * scale)])
    )

    # two faces side by side in 1024x512: the photo, and a 384-pixel copy
    pair = Image.new("RGB", (1024, 512))
    pair.paste(photo, (0, 0))
    pair.paste(photo.resize((384, 384), Image.Resampling.LANCZOS), (600, 64))
    scenes.append(
        Scene("two_faces_1024x512", np.asarray(pair), [ASTRONAUT_FACE, _scaled(ASTRONAUT_FACE, 0.75, 600, 64)])
    )

    # a 3000-pixel face in a 6000x4000 photo
    scale = 3000 / fh
    left, top = fx + fw / 2 - 3000 / scale, fy + fh / 2 - 2000 / scale
    big = photo.resize((6000, 4000), Image.Resampling.BICUBIC, box=(left, top, left + 6000 / scale, top + 4000 / scale))
    scenes.append(
        Scene(
            "face_3000px_in_6000x4000", np.asarray(big), [_scaled(ASTRONAUT_FACE, scale, -left * scale, -top * scale)]
        )
    )

    # a collage of seven faces: head crops of several sizes, every other one mirrored, on a white 1400x800 sheet
    head = (fx - 40, fy - 45, fx + fw + 40, fy + fh + 45)  # 176 x 204 around the face
    sheet, faces = Image.new("RGB", (1400, 800), "white"), []
    tiles = [
        (20, 20, 1.6),
        (340, 40, 1.2),
        (600, 20, 1.8),
        (960, 60, 1.0),
        (60, 440, 1.0),
        (420, 400, 1.5),
        (880, 400, 1.7),
    ]
    for number, (x, y, scale) in enumerate(tiles):
        tile = photo.crop(head).resize((round(176 * scale), round(204 * scale)), Image.Resampling.LANCZOS)
        face = _scaled((40, 45, fw, fh), scale)
        if number % 2:
            tile, face = ImageOps.mirror(tile), _mirrored(face, tile.width)
        sheet.paste(tile, (x, y))
        faces.append((face[0] + x, face[1] + y, face[2], face[3]))
    scenes.append(Scene("collage_of_seven", np.asarray(sheet), faces))
    return scenes
