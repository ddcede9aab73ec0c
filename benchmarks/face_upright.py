"""What turning faces upright by their eyes (fer_hub.inference.faces.face_crop) changes: FER2013 PublicTest faces, tilted by
-20, 0 and +20 degrees, classified by the embedded model as the recognizer sees them.

Each 48x48 face is enlarged 3x (144 px), framed by 48 mirrored pixels on each side (240x240, so the detector sees
some surroundings) and turned about its centre. Then, per tilt:

- whole face, not turned: the central 144x144 as it is (what `--whole-image` classifies);
- box + 10% margins: the detector's box grown by a tenth on each side (the crop before FER framing);
- FER framing, not turned: `face_crop`'s square around the detected box, the eyes taken as level;
- FER framing, upright: `face_crop` as the recognizer uses it, turned so that the detected eyes are level;
- known tilt undone: the face turned back by the exact angle, then the central 144x144 (an upper bound).

Accuracy over the faces the detector finds (the same faces for every row of a tilt), and how many it finds.

    python benchmarks/face_upright.py [--limit N]

Writes benchmarks/results/face_upright.json and .md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from PIL import Image
from results_io import write_report

from fer_hub import load_fer2013
from fer_hub.inference.faces import FaceBox, face_crop
from fer_hub.inference.recognizer import get_recognizer
from fer_hub.models.pretrained import DEFAULT_MODEL_DIR

ROOT = Path(__file__).resolve().parents[1]
SHARED_CSV = ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.csv.gz"
RESULTS = Path(__file__).resolve().parent / "results"
TILTS = (-20, -10, 0, 10, 20)
ENLARGE, FRAME = 3, 48
WAYS = (
    "whole face, not turned",
    "box + 10% margins",
    "FER framing, not turned",
    "FER framing, upright",
    "known tilt undone",
)


def scene(face: Image.Image, tilt: float) -> Image.Image:
    """The face enlarged, framed by its mirror image and turned `tilt` degrees counter-clockwise, in RGB."""
    side = face.width * ENLARGE
    big = face.convert("RGB").resize((side, side), Image.Resampling.BICUBIC)
    framed = Image.fromarray(np.pad(np.asarray(big), ((FRAME, FRAME), (FRAME, FRAME), (0, 0)), mode="symmetric"))
    return framed.rotate(tilt, resample=Image.Resampling.BICUBIC) if tilt else framed


def centre(image: Image.Image, side: int) -> Image.Image:
    left = (image.width - side) // 2
    return image.crop((left, left, left + side, left + side))


def with_margins(image: Image.Image, box: tuple[int, int, int, int], margin: float = 0.1) -> Image.Image:
    x, y, w, h = box
    dx, dy = round(w * margin), round(h * margin)
    return image.crop((max(0, x - dx), max(0, y - dy), min(image.width, x + w + dx), min(image.height, y + h + dy)))


def level(face: FaceBox) -> FaceBox:
    """The same face with its right eye moved to the height of its left one: framed the same, not turned."""
    (left_x, left_y), (right_x, _) = face.eyes
    return FaceBox(face.box, ((left_x, left_y), (right_x, left_y)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED_CSV))
    parser.add_argument("--limit", type=int, help="only the first N PublicTest faces")
    parser.add_argument("--output", type=Path, default=RESULTS / "face_upright.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    split = load_fer2013(args.data)["validation"]
    if args.limit:
        split = split.select(range(args.limit))
    faces, labels = list(split["image"]), np.asarray(split["label"])
    recognizer = get_recognizer()
    side = 48 * ENLARGE
    started, rows = time.perf_counter(), []
    for tilt in TILTS:
        crops = {way: [] for way in WAYS}
        found = []
        for index, face in enumerate(faces):
            photo = scene(face, tilt)
            detected = recognizer.detector.detect(photo)
            if not detected:
                continue
            found.append(index)
            best = detected[0]
            crops["whole face, not turned"].append(centre(photo, side))
            crops["box + 10% margins"].append(with_margins(photo, best.box))
            crops["FER framing, not turned"].append(face_crop(photo, level(best)))
            crops["FER framing, upright"].append(face_crop(photo, best))
            crops["known tilt undone"].append(centre(photo.rotate(-tilt, resample=Image.Resampling.BICUBIC), side))
        truth = labels[found]
        row = {"tilt": tilt, "faces": len(faces), "detected": len(found)}
        for way, images in crops.items():
            predicted = recognizer.classifier.probabilities(images).argmax(axis=1)
            row[way] = round(float((predicted == truth).mean()), 4)
        rows.append(row)
        print(row, flush=True)
    weights = (DEFAULT_MODEL_DIR / "model.safetensors").read_bytes()
    report = {
        "data": f"FER2013 PublicTest ({len(faces)} faces, FER2013 labels)",
        "model": f"the embedded default model (model.safetensors sha256 {hashlib.sha256(weights).hexdigest()[:12]})",
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }
    write_report(report, args.output, markdown)


def markdown(report: dict) -> str:
    lines = [
        "# Upright crops: faces turned by their eyes before classifying",
        "",
        f"Written by `benchmarks/face_upright.py`: {report['data']}, {report['model']}, each face enlarged 3x, framed "
        "by its mirror image and tilted; accuracy over the faces the detector finds (RetinaFace, eyes from its "
        "landmarks).",
        "",
        "| tilt (degrees) | faces detected | " + " | ".join(WAYS) + " |",
        "|---|---|" + "---|" * len(WAYS),
    ]
    for row in report["rows"]:
        cells = " | ".join(f"{row[way]:.4f}" for way in WAYS)
        lines.append(f"| {row['tilt']:+d} | {row['detected']}/{row['faces']} | {cells} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
