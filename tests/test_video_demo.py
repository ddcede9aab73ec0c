"""The demo's Video tab: a clip in, the annotated clip (browser-playable WebM), the timeline PNG and the CSV out."""

import csv

import cv2
from PIL import Image
from video_clips import write_clip

from fer_hub.demo.video_tab import analyze_clip
from fer_hub.inference.recognizer import get_recognizer
from fer_hub.labels import LABELS


def test_a_clip_gives_annotated_clip_timeline_and_csv(tmp_path):
    clip = write_clip(tmp_path / "upload.mp4", faces=2, frames=20)
    annotated, plot, table, message = analyze_clip(str(clip), get_recognizer(), every=2)
    assert message == "**10 frames analysed, 2 faces tracked, 20 rows.**"
    video = cv2.VideoCapture(annotated)
    assert annotated.endswith(".webm") and int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    ok, frame = video.read()
    assert ok and frame.shape == (360, 480, 3)
    video.release()
    assert Image.open(plot).format == "PNG"
    with open(table, newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 20 and {row["face_id"] for row in rows} == {"1", "2"} and set(LABELS) <= set(rows[0])


def test_a_bad_clip_is_a_message_not_a_crash(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    *files, message = analyze_clip(str(broken), get_recognizer())
    assert files == [None, None, None]
    assert message.startswith("**Cannot use this clip:** broken.mp4: not a readable video (an unknown format")
    assert analyze_clip(None, get_recognizer()) == (None, None, None, "")


def test_the_demo_has_a_video_tab():
    from fer_hub.demo.app import build_demo

    demo = build_demo(examples_dir=None)
    labels = {getattr(block, "label", None) for block in demo.blocks.values()}
    assert {"Video", "Faces", "Every face in every analysed frame (CSV)"} <= labels
