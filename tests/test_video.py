"""Videos and folders in `fer-hub predict` and `fer_hub.analyze_video`: the table's columns, rows and time stamps,
stable face ids, sampling, smoothing, the timeline and annotated copy, Ctrl-C and truncated videos. The videos are
made by the tests (tests/video_clips.py): 25 frames per second, every frame showing its faces."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from video_clips import write_clip

import fer_hub
from fer_hub.cli.main import main
from fer_hub.labels import LABELS
from fer_hub.media.table_writer import COLUMNS

FRAMES = 40
UNREADABLE = "not a readable video (an unknown format, or the file is truncated or corrupt)"


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {
        "one": write_clip(folder / "one.avi", faces=1, frames=FRAMES),
        "two": write_clip(folder / "two.mp4", faces=2, frames=FRAMES),
    }


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="") as file:
        reader = csv.DictReader(file)
        return reader.fieldnames, list(reader)


def test_csv_columns_rows_time_stamps_and_one_stable_id(clips, tmp_path, capsys):
    table = tmp_path / "out" / "rows.csv"
    assert main(["predict", str(clips["one"]), "--csv", str(table)]) == 0
    columns, rows = read_csv(table)
    assert columns == ["source", "frame", "time_s", "face_id", "x", "y", "w", "h", "label", *LABELS]
    assert [int(row["frame"]) for row in rows] == list(range(FRAMES))  # one face in every frame: one row each
    assert [float(row["time_s"]) for row in rows] == [round(frame / 25, 3) for frame in range(FRAMES)]
    assert {row["face_id"] for row in rows} == {"1"}  # the moving face keeps its id
    xs = [int(row["x"]) for row in rows]
    assert xs[-1] - xs[0] > 100  # it did move across the frame
    for row in rows:
        scores = {name: float(row[name]) for name in LABELS}
        assert sum(scores.values()) == pytest.approx(1, abs=1e-3)
        assert row["label"] == max(scores, key=scores.get) and row["source"] == str(clips["one"])
    timeline = tmp_path / "out" / "one.timeline.png"  # beside the table by default
    assert Image.open(timeline).format == "PNG"
    err = capsys.readouterr().err
    assert f"wrote {table}: {FRAMES} rows" in err and str(timeline) in err and "Traceback" not in err


def test_two_faces_get_two_ids_that_follow_them(clips, tmp_path):
    table = tmp_path / "rows.jsonl"
    assert main(["predict", str(clips["two"]), "--jsonl", str(table)]) == 0
    rows = [json.loads(line) for line in table.read_text().splitlines()]
    assert list(rows[0]) == list(COLUMNS)
    assert len(rows) == 2 * FRAMES
    assert {row["face_id"] for row in rows} == {1, 2}
    for face_id in (1, 2):  # one face stays on the left half, the other on the right: an id never jumps
        sides = {row["x"] < 240 for row in rows if row["face_id"] == face_id}
        assert len(sides) == 1 and sum(row["face_id"] == face_id for row in rows) == FRAMES


def test_every_and_fps_sample_frames_with_their_own_time_stamps(clips, tmp_path):
    every = tmp_path / "every.csv"
    assert main(["predict", str(clips["one"]), "--csv", str(every), "--every", "4"]) == 0
    _, rows = read_csv(every)
    assert [int(row["frame"]) for row in rows] == list(range(0, FRAMES, 4))
    assert [float(row["time_s"]) for row in rows] == [round(frame / 25, 3) for frame in range(0, FRAMES, 4)]
    results = list(fer_hub.analyze_video(clips["one"], fps=5))
    assert [result.frame for result in results] == list(range(0, FRAMES, 5))
    assert [result.time_s for result in results] == pytest.approx([frame / 25 for frame in range(0, FRAMES, 5)])


def test_smoothing_steadies_the_scores(clips):
    raw = [result.faces[0].scores for result in fer_hub.analyze_video(clips["one"])]
    smooth = [result.faces[0].scores for result in fer_hub.analyze_video(clips["one"], smooth=1.0)]
    assert smooth[0] == raw[0]

    def jitter(series):
        values = np.array([[scores[name] for name in LABELS] for scores in series])
        return np.abs(np.diff(values, axis=0)).sum()

    assert jitter(smooth) < 0.5 * jitter(raw)
    assert all(sum(scores.values()) == pytest.approx(1, abs=1e-5) for scores in smooth)


def test_python_api_yields_typed_frames_and_writes_csv_in_one_call(clips, tmp_path):
    annotated = tmp_path / "annotated.mp4"
    results = fer_hub.analyze_video(clips["two"], every=2, annotate=annotated)
    first = next(results)
    assert isinstance(first, fer_hub.FrameResult) and (first.frame, first.time_s) == (0, 0.0)
    assert all(isinstance(face, fer_hub.TrackedFace) for face in first.faces)
    assert sorted(face.face_id for face in first.faces) == [1, 2]
    assert fer_hub.write_csv(results, tmp_path / "rest.csv") == 2 * (FRAMES // 2 - 1)  # the frames not yet taken
    _, rows = read_csv(tmp_path / "rest.csv")
    assert len(rows) == 2 * (FRAMES // 2 - 1) and rows[0]["frame"] == "2"
    video = cv2.VideoCapture(str(annotated))  # the analysed frames, boxed, playing in real time
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES // 2 and video.get(cv2.CAP_PROP_FPS) == 12.5
    video.release()


def test_folders_are_searched_recursively(clips, astronaut_png, tmp_path, capsys):
    folder = tmp_path / "media"
    (folder / "sub").mkdir(parents=True)
    Image.open(astronaut_png).save(folder / "astronaut.png")
    (folder / "notes.txt").write_text("not an image")  # ignored: neither an image nor a video
    (folder / "sub" / "clip.avi").write_bytes(clips["one"].read_bytes())
    table = tmp_path / "rows.csv"
    plots = tmp_path / "plots"
    assert main(["predict", str(folder), "--csv", str(table), "--every", "10", "--timeline", str(plots)]) == 0
    _, rows = read_csv(table)
    assert [(Path(row["source"]).name, row["frame"], row["time_s"]) for row in rows] == [
        ("astronaut.png", "", ""),
        *[("clip.avi", str(frame), str(frame / 25)) for frame in range(0, FRAMES, 10)],
    ]
    assert {row["face_id"] for row in rows} == {"1"}  # also across frames 10 apart (the face moved 50 px)
    assert (plots / "clip.timeline.png").is_file()
    images = tmp_path / "images"
    (images / "deeper").mkdir(parents=True)
    Image.open(astronaut_png).save(images / "deeper" / "a.png")
    capsys.readouterr()
    assert main(["predict", str(images)]) == 0  # no table: images print as text, as always
    assert capsys.readouterr().out.startswith(f"{images / 'deeper' / 'a.png'}: 1 face found")


def test_a_video_needs_a_table(clips, capsys):
    assert main(["predict", str(clips["one"])]) == 2
    assert "is a video: add --csv FILE or --jsonl FILE" in capsys.readouterr().err


def test_faces_are_found_every_tenth_of_a_second_and_carried_between(clips, monkeypatch):
    recognizer = fer_hub.inference.recognizer.get_recognizer()
    detected = []
    detect = recognizer.detector.detect
    monkeypatch.setattr(recognizer.detector, "detect", lambda frame: detected.append(1) or detect(frame))
    default = list(fer_hub.analyze_video(clips["one"], recognizer))
    assert len(detected) == -(-FRAMES // 3)  # 25 fps: frames 0, 3, 6, ... (0.12 s apart, the first >= 0.1 s)
    assert [result.faces[0].box for result in default[:3]] == [default[0].faces[0].box] * 3  # carried over
    detected.clear()
    every = list(fer_hub.analyze_video(clips["one"], recognizer, detect_interval=0))
    assert len(detected) == FRAMES
    # the face moves 5 px a frame: carried boxes lag by at most 2 frames, the labels stay those of detecting each frame
    assert [r.faces[0].label for r in default] == [r.faces[0].label for r in every]
    lags = [abs(a.faces[0].box[0] - b.faces[0].box[0]) for a, b in zip(default, every)]
    assert max(lags) <= 2 * 5 + 3 and lags[::3] == [0] * len(lags[::3])


@pytest.mark.parametrize(
    "options, phrase",
    [
        (["--every", "0"], "--every: must be a whole number >= 1, not 0"),
        (["--fps", "-2"], "--fps: must be above 0, not -2.0"),
        (["--every", "2", "--fps", "5"], "--fps: give --every or --fps, not both"),
        (["--smooth", "0"], "--smooth: must be above 0 seconds, not 0.0"),
        (["--detect-interval", "-1"], "--detect-interval: must be 0 or more seconds, not -1.0"),
        (["--detect-interval", "nan"], "--detect-interval: must be 0 or more seconds, not nan"),
        (
            ["--annotate", "out.mp4", "TWO"],
            "--annotate out.mp4: a file name takes exactly one video (2 given); give a folder",
        ),
        (["--whole-image"], "--whole-image applies to images (already-cropped faces), not to videos"),
    ],
)
def test_bad_video_options_fail_before_anything_is_written(clips, tmp_path, capsys, options, phrase):
    paths = [str(clips["one"]), *([str(clips["two"])] if "TWO" in options else [])]
    options = [option for option in options if option != "TWO"]
    assert main(["predict", *paths, "--csv", str(tmp_path / "rows.csv"), *options]) == 2
    assert capsys.readouterr().err == f"fer-hub predict: error: {phrase}\n"
    assert list(tmp_path.iterdir()) == []


def test_truncated_and_unreadable_videos_are_one_clear_error(clips, tmp_path, capsys):
    truncated = tmp_path / "truncated.avi"
    data = clips["one"].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    table = tmp_path / "rows.csv"
    assert main(["predict", str(truncated), "--csv", str(table)]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line]
    assert errors == [errors[0]] and f"fer-hub predict: error: {truncated}: the video stops at frame" in errors[0]
    assert "truncated" in errors[0] and "Traceback" not in err
    _, rows = read_csv(table)  # the frames before the cut are in the table
    assert 0 < len(rows) < FRAMES and [int(row["frame"]) for row in rows] == list(range(len(rows)))

    unreadable = tmp_path / "cut.mp4"  # an mp4 cut short loses its index: nothing can be decoded
    data = clips["two"].read_bytes()
    unreadable.write_bytes(data[: len(data) // 2])
    assert main(["predict", str(unreadable), "--csv", str(tmp_path / "none.csv")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"fer-hub predict: error: {unreadable}: {UNREADABLE}"
    assert not (tmp_path / "none.csv").exists()


@pytest.mark.slow
def test_ctrl_c_leaves_the_previous_table_and_no_partial_one(tmp_path):
    clip = write_clip(tmp_path / "long.avi", faces=1, frames=600)
    table = tmp_path / "rows.csv"
    table.write_text("the previous table\n")
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "fer_hub", "predict", str(clip), "--csv", str(table)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        # Ctrl-C as a terminal delivers it: a test run started in the background inherits SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )

    def staged() -> list[Path]:  # the table being written, renamed to rows.csv only when complete
        return [path for path in tmp_path.iterdir() if path.name.startswith(".rows.")]

    deadline = time.monotonic() + 300
    while not (staged() and staged()[0].read_text().count("\n") > 3):
        finished = process.poll() is not None
        assert not finished and time.monotonic() < deadline, process.stderr.read() if finished else "timeout"
        time.sleep(0.1)
    columns, rows = read_csv(staged()[0])  # streamed: a valid table of the frames done so far
    assert columns == list(COLUMNS) and [int(row["frame"]) for row in rows] == list(range(len(rows)))
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "fer-hub predict: interrupted" in err and "Traceback" not in err
    assert table.read_text() == "the previous table\n" and staged() == []
    assert sorted(path.name for path in tmp_path.iterdir()) == ["long.avi", "rows.csv"]
