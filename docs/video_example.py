"""Makes the example of docs/video.md: a clip built from still photos (four FER2013 test faces shown in turn on the
left, skimage's astronaut moving on the right), run through `fer-hub predict`; keeps its timeline plot, one
annotated frame and the first rows of the CSV.

    python docs/video_example.py        # writes docs/video_timeline.png, docs/video_frame.png, docs/video_rows.csv
"""

from __future__ import annotations

import csv
import gzip
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' clip maker
from video_clips import FACE_SIDE, face_positions, pictures  # noqa: E402

from fer_hub.cli.main import main  # noqa: E402

DOCS = Path(__file__).resolve().parent
FER_FACES = {"neutral": 116, "happy": 73, "surprise": 104, "sad": 92}  # rows of tests/fixtures/fer2013_tiny.csv.gz
SIZE, FPS, SECONDS_EACH = (640, 360), 25, 2.0
SHOWN_ROWS = 6


def fer_faces() -> list[np.ndarray]:
    with gzip.open(ROOT / "tests" / "fixtures" / "fer2013_tiny.csv.gz", "rt") as file:
        rows = list(csv.DictReader(file))
    faces = []
    for row in FER_FACES.values():
        gray = np.array(rows[row]["pixels"].split(), dtype=np.uint8).reshape(48, 48)
        big = cv2.resize(gray, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_CUBIC)
        faces.append(cv2.cvtColor(big, cv2.COLOR_GRAY2RGB))
    return faces


def write_example(path: Path) -> None:
    background, head = pictures(SIZE)
    faces = fer_faces()
    frames = round(len(faces) * SECONDS_EACH * FPS)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    for frame in range(frames):
        picture = background.copy()
        (left_x, left_y), (right_x, right_y) = face_positions(2, frame, SIZE)
        picture[left_y : left_y + FACE_SIDE, left_x : left_x + FACE_SIDE] = faces[int(frame / FPS / SECONDS_EACH)]
        picture[right_y : right_y + FACE_SIDE, right_x : right_x + FACE_SIDE] = head[:, ::-1]
        writer.write(cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    writer.release()


def main_example() -> None:
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # the file names in the table and the plot, as a user would type them
        write_example(Path("example.avi"))
        command = ["predict", "example.avi", "--csv", "rows.csv", "--smooth", "0.3", "--annotate", "annotated.avi"]
        assert main(command) == 0
        Path("example.timeline.png").replace(DOCS / "video_timeline.png")
        video = cv2.VideoCapture("annotated.avi")
        video.set(cv2.CAP_PROP_POS_FRAMES, round(1.5 * SECONDS_EACH * FPS))  # the happy face
        ok, frame = video.read()
        assert ok, "the annotated clip has no frame to show"
        cv2.imwrite(str(DOCS / "video_frame.png"), frame, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        lines = Path("rows.csv").read_text().splitlines()
        (DOCS / "video_rows.csv").write_text("\n".join(lines[: SHOWN_ROWS + 1]) + "\n")
        os.chdir(ROOT)
    print(f"wrote {DOCS / 'video_timeline.png'}, {DOCS / 'video_frame.png'} and {DOCS / 'video_rows.csv'}")


if __name__ == "__main__":
    main_example()
