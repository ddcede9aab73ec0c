"""The timeline: bounded memory for any video length (points averaged in pairs), and its PNG."""

import numpy as np
from PIL import Image

from fer_hub.labels import LABELS
from fer_hub.media.timeline import MAX_POINTS, Timeline
from fer_hub.media.video import FrameResult, TrackedFace


def frame(index: int, faces: list[tuple[int, str]]) -> FrameResult:
    return FrameResult(
        "clip.mp4",
        index,
        index / 25,
        [
            TrackedFace((10, 10, 50, 50), {name: 0.94 if name == label else 0.01 for name in LABELS}, face_id)
            for face_id, label in faces
        ],
    )


def test_a_long_video_keeps_at_most_max_points_per_face(tmp_path):
    timeline = Timeline("clip.mp4")
    frames = 5 * MAX_POINTS + 3
    for index in range(frames):
        timeline.add(frame(index, [(1, "happy" if index < frames // 2 else "sad")]))
    series = timeline.faces[1]
    assert MAX_POINTS // 2 <= len(series.times) < MAX_POINTS
    assert sum(series.weights) == frames and series.label_counts.sum() == frames
    assert np.all(np.diff(series.times) > 0) and series.times[-1] <= (frames - 1) / 25
    assert np.allclose([scores.sum() for scores in series.scores], 1.0, atol=1e-4)  # averages of distributions
    path = timeline.save(tmp_path / "plots" / "clip.timeline.png")
    assert Image.open(path).format == "PNG"


def test_every_face_gets_a_panel_and_no_face_still_gives_a_plot(tmp_path):
    timeline = Timeline("two.mp4")
    for index in range(10):
        timeline.add(frame(index, [(1, "happy"), (2, "angry")] if index < 8 else [(2, "angry")]))
    assert [face.label_counts.sum() for face in timeline.faces.values()] == [8, 10]
    _, tall = Image.open(timeline.save(tmp_path / "two.png")).size
    empty = Timeline("empty.mp4")
    empty.add(frame(0, []))
    _, short = Image.open(empty.save(tmp_path / "empty.png")).size
    assert tall > short  # two panels against one
