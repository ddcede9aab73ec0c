"""fer-hub beside the `fer` package (PyPI, 25.10.3: Haar cascade + int8 TFLite classifier), one core each:

- the one-photo command: `fer-hub predict astronaut.jpg`, wall clock of the whole process (target < 1 s);
- a whole photo (detect + classify) in a warm process, on the shared group photos and the astronaut portrait, with
  the annotated faces each finds (IoU >= 0.3);
- video: `fer-hub predict CLIP --csv` end to end on a 60-s 640x480 clip with one face (target >= 60 frames/s), and
  how its rows differ from detecting faces on every frame; fer's `detect_emotions` on the decoded frames;
- one face through the classifier alone (fer-hub's shipped int8 ONNX and an fp32 export; fer's int8 TFLite), and
  the PublicTest accuracy of the int8 graph against the PyTorch weights.

fer runs in its own environment (it needs TensorFlow); this script installs nothing:

    python -m venv ~/fer-venv
    ~/fer-venv/bin/pip install tensorflow-cpu "opencv-contrib-python-headless<5" pandas requests tqdm matplotlib pillow
    ~/fer-venv/bin/pip install --no-deps fer==25.10.3
    python benchmarks/peers.py --fer-python ~/fer-venv/bin/python [--note "..."]

Without --fer-python only fer-hub is measured. Writes benchmarks/results/peers.json and .md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from results_io import write_report

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' scenes and clip maker
from face_scenes import Scene, group_photos, iou, match  # noqa: E402
from video_clips import write_clip  # noqa: E402

from fer_hub import LABELS, load_fer2013  # noqa: E402
from fer_hub.inference.classifier import load_model_classifier  # noqa: E402
from fer_hub.inference.onnx_runtime import load_onnx  # noqa: E402
from fer_hub.inference.recognizer import get_recognizer  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SHARED_CSV = ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013-train-publictest.csv.gz"
FER_WORKER = Path(__file__).with_name("peer_fer.py")
VIDEO_FRAMES, VIDEO_SIZE, VIDEO_FPS = 1500, (640, 480), 25.0
FER_VIDEO_FRAMES = 300  # fer's per-frame figure needs fewer frames than fer-hub's end-to-end run
FACES = 500  # PublicTest faces timed one at a time
PER_FACE_ROUNDS = 3
SHIPPED_GRAPH = "int8 (shipped)"  # the graph `fer-hub predict` runs


def pinned(core: int):
    return lambda: os.sched_setaffinity(0, {core})


def command_wall(photo: Path, core: int, runs: int) -> dict:
    """Wall seconds of the whole `fer-hub predict PHOTO` process, after one warm-up run (warm disk)."""
    command = [str(Path(sys.executable).with_name("fer-hub")), "predict", str(photo)]
    timings, output = [], ""
    for run in range(runs + 1):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, preexec_fn=pinned(core), check=True)
        if run:
            timings.append(time.perf_counter() - started)
        output = done.stdout
    return {"median_s": statistics.median(timings), "runs_s": [round(t, 3) for t in timings], "output": output}


def photo_scenes() -> list[Scene]:
    from skimage import data

    portrait = Scene("astronaut.png", data.astronaut(), [(178.0, 68.0, 96.0, 114.0)])
    return [*group_photos(), portrait]


def fer_hub_photos(scenes: list[Scene], repeats: int) -> dict:
    from PIL import Image

    recognizer = get_recognizer()
    results = {}
    for scene in scenes:
        image = Image.fromarray(scene.image)
        recognizer.recognize(image)
        timings, faces = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            faces = recognizer.recognize(image)
            timings.append(time.perf_counter() - started)
        results[scene.name] = {"ms": statistics.median(timings) * 1000, "boxes": [list(face.box) for face in faces]}
    return results


def recall(scenes: list[Scene], photos: dict) -> dict:
    found = false = 0
    for scene in scenes:
        hits, misses = match(scene.faces, [tuple(box) for box in photos[scene.name]["boxes"]])
        found, false = found + hits, false + misses
    return {"found": found, "faces": sum(len(scene.faces) for scene in scenes), "false_boxes": false}


def video_rows(table: Path) -> dict[int, dict]:
    """Frame -> its first face's row (the clip has one face)."""
    rows = {}
    with table.open(newline="") as file:
        for row in csv.DictReader(file):
            rows.setdefault(int(row["frame"]), row)
    return rows


def scores(row: dict) -> np.ndarray:
    return np.array([float(row[label]) for label in LABELS])


def fer_hub_video(clip: Path, folder: Path, core: int) -> dict:
    """`fer-hub predict CLIP --csv` end to end (the default detection interval, then every frame detected)."""
    runs = {}
    for name, extra in (("default", []), ("every_frame", ["--detect-interval", "0"])):
        table = folder / f"{name}.csv"
        command = [str(Path(sys.executable).with_name("fer-hub")), "predict", str(clip), "--csv", str(table), *extra]
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, text=True, preexec_fn=pinned(core), check=True)
        seconds = time.perf_counter() - started
        runs[name] = {"seconds": seconds, "frames_per_s": VIDEO_FRAMES / seconds, "rows": video_rows(table)}
    default, every = runs["default"].pop("rows"), runs["every_frame"].pop("rows")
    frames = sorted(set(default) & set(every))
    boxes = [tuple(int(row[key]) for key in "xywh") for row in (default[f] for f in frames)]
    reference = [tuple(int(row[key]) for key in "xywh") for row in (every[f] for f in frames)]
    return {
        **runs,
        "frames_with_a_face": {"default": len(default), "every_frame": len(every), "of": VIDEO_FRAMES},
        "label_agreement": float(np.mean([default[f]["label"] == every[f]["label"] for f in frames])),
        "mean_box_iou": float(np.mean([iou(a, b) for a, b in zip(boxes, reference)])),
        "mean_score_difference": float(np.mean([np.abs(scores(default[f]) - scores(every[f])).max() for f in frames])),
    }


def per_face(faces: np.ndarray, fp32_path: Path | None) -> dict:
    """Median ms to classify one preprocessed face (1x1x48x48) with each ONNX graph, one thread."""
    shipped = load_model_classifier()
    graphs = {SHIPPED_GRAPH: shipped.logits.path}
    if fp32_path:
        graphs["fp32"] = str(fp32_path)
    pixels = shipped.pixels.pixel_values(list(faces))
    results = {}
    for name, path in graphs.items():
        logits, _ = load_onnx(path, threads=1)
        timings = []
        for face in pixels:
            started = time.perf_counter()
            logits(face[None])
            timings.append(time.perf_counter() - started)
        results[name] = statistics.median(timings[10:]) * 1000
    return results


def int8_accuracy() -> dict:
    """PublicTest accuracy (FER2013 labels) of the shipped int8 graph and of the PyTorch weights it came from."""
    faces = load_fer2013(SHARED_CSV)["validation"]
    labels = np.asarray(faces["label"])
    shipped = load_model_classifier()
    pytorch = load_model_classifier(bundled=False)
    pixels = shipped.pixels.pixel_values(faces["image"])
    int8, fp32 = (classifier.pixel_probabilities(pixels) for classifier in (shipped, pytorch))
    return {
        "faces": len(labels),
        "int8": float((int8.argmax(1) == labels).mean()),
        "pytorch_fp32": float((fp32.argmax(1) == labels).mean()),
        "label_agreement": float((int8.argmax(1) == fp32.argmax(1)).mean()),
    }


def fer_tflite(python: str) -> str:
    """The path of fer's int8 TFLite classifier in the environment of `python`."""
    return subprocess.run(
        [
            python,
            "-c",
            "import fer, os; print(os.path.join(os.path.dirname(fer.__file__), 'data', "
            "'emotion_model_quantized.tflite'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def run_fer(python: str, job: dict) -> dict:
    done = subprocess.run([python, str(FER_WORKER)], input=json.dumps(job), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the fer worker failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fer-python", help="the Python of an environment where fer is installed")
    parser.add_argument("--core", type=int, default=max(os.sched_getaffinity(0)), help="the core both run on")
    parser.add_argument("--note", default="", help="what else ran on the machine")
    parser.add_argument("--output", type=Path, default=RESULTS / "peers.json")
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.core})
    os.environ["OMP_NUM_THREADS"] = "1"

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        from PIL import Image
        from skimage import data

        photo = folder / "astronaut.jpg"
        Image.fromarray(data.astronaut()).save(photo, quality=95)
        scenes = photo_scenes()
        scene_files = []
        for scene in scenes:
            scene_files.append(folder / f"scene-{len(scene_files)}.png")
            Image.fromarray(scene.image).save(scene_files[-1])
        clip = write_clip(folder / "one_face.mp4", faces=1, frames=VIDEO_FRAMES, fps=VIDEO_FPS, size=VIDEO_SIZE)
        training = load_fer2013(SHARED_CSV)["validation"].select(range(FACES))
        faces = np.stack([np.asarray(image.convert("L")) for image in training["image"]])
        np.save(folder / "faces.npy", faces)
        fp32_path = None
        try:
            from fer_hub.models.onnx_export import export_onnx

            fp32_path = export_onnx("sepnet.ferplus", folder / "fp32.onnx").path
        except Exception as error:  # the onnx extra missing: the fp32 row is left out
            print(f"no fp32 export ({error})", file=sys.stderr)

        report = {
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; everything pinned to core {args.core}, one thread",
            "note": args.note,
            "command": command_wall(photo, args.core, runs=7),
            "photos": fer_hub_photos(scenes, repeats=10),
            "video": fer_hub_video(clip, folder, args.core),
            "accuracy": int8_accuracy(),
        }
        report["recall"] = recall(scenes, report["photos"])
        job = None
        if args.fer_python:
            job = {
                "core": args.core,
                "photos": [str(path) for path in scene_files],
                "photo_repeats": 10,
                "video": str(clip),
                "video_frames": FER_VIDEO_FRAMES,
                "faces": str(folder / "faces.npy"),
                "tflite": fer_tflite(args.fer_python),
            }
            fer = run_fer(args.fer_python, job)
            fer["photos"] = {scene.name: fer["photos"][str(path)] for scene, path in zip(scenes, scene_files)}
            fer["recall"] = recall(scenes, fer["photos"])
            report["fer"] = fer
        # one face at a time, fer-hub's graphs and fer's model in alternate rounds (the machine's state shared)
        rounds = []
        for _ in range(PER_FACE_ROUNDS):
            rounds.append({"fer-hub": per_face(faces, fp32_path)})
            if job:
                rounds[-1]["fer"] = run_fer(args.fer_python, {**job, "per_face_only": True})["per_face_ms"]
        report["per_face_rounds"] = rounds
        report["per_face_ms"] = {
            name: statistics.median(one["fer-hub"][name] for one in rounds) for name in rounds[0]["fer-hub"]
        }
        if job:
            report["fer"]["per_face_ms"] = statistics.median(one["fer"] for one in rounds)
    write_report(report, args.output, markdown)


def markdown(report: dict) -> str:
    fer = report.get("fer")
    hub_photo = statistics.median(row["ms"] for row in report["photos"].values())
    video = report["video"]
    lines = [
        "# fer-hub beside fer",
        "",
        report["machine"] + (f"; {report['note']}" if report["note"] else "") + ".",
        "",
        "| figure | fer-hub | fer | fer / fer-hub | target |",
        "|---|---|---|---|---|",
    ]

    def row(name: str, ours: float, theirs: float | None, unit: str, target: str, lower_is_better: bool = True) -> None:
        if theirs is None:
            lines.append(f"| {name} | {ours:.3g} {unit} | not measured | - | {target} |")
            return
        ratio = theirs / ours if lower_is_better else ours / theirs
        lines.append(f"| {name} | {ours:.3g} {unit} | {theirs:.3g} {unit} | {ratio:.1f}x | {target} |")

    lines.append(
        f"| `fer-hub predict astronaut.jpg`, whole process | {report['command']['median_s']:.2f} s | - | - | < 1 s |"
    )
    fer_photo = statistics.median(row["ms"] for row in fer["photos"].values()) if fer else None
    row(f"a photo, detect + classify (median of {len(report['photos'])} photos)", hub_photo, fer_photo, "ms", "-")
    hub_recall, fer_recall = report["recall"], fer["recall"] if fer else None
    lines.append(
        f"| annotated faces found (IoU >= 0.3) | {hub_recall['found']}/{hub_recall['faces']} "
        f"({hub_recall['false_boxes']} false) | "
        + (f"{fer_recall['found']}/{fer_recall['faces']} ({fer_recall['false_boxes']} false)" if fer else "-")
        + " | - | unchanged |"
    )
    fer_fps = fer["video"]["frames"] / fer["video"]["seconds"] if fer else None
    if fer:
        lines.append(
            f"| 640x480 video, one face: frames/s | {video['default']['frames_per_s']:.1f} (`fer-hub predict "
            f"--csv`, end to end) | {fer_fps:.1f} (`detect_emotions` per decoded frame) | "
            f"{video['default']['frames_per_s'] / fer_fps:.1f}x | >= 60 |"
        )
    else:
        lines.append(f"| 640x480 video, one face: frames/s | {video['default']['frames_per_s']:.1f} | - | - | >= 60 |")
    fer_face = fer["per_face_ms"] if fer else None
    for name, ms in report["per_face_ms"].items():
        target = "faster than fer" if name == SHIPPED_GRAPH else "-"
        row(f"one face, classifier alone: {name} ONNX vs fer's int8 TFLite", ms, fer_face, "ms", target)
    accuracy = report["accuracy"]
    lines += [
        "",
        f"Video: {VIDEO_FRAMES} frames ({VIDEO_FRAMES / VIDEO_FPS:.0f} s at {VIDEO_FPS:.0f} fps, 640x480, one face "
        f"moving 5 px a frame), the whole `fer-hub predict CLIP --csv` process (start, decode, detect, track, "
        f"classify, write, timeline plot): {video['default']['seconds']:.1f} s with faces found at least every 0.1 s "
        f"of video (the default), {video['every_frame']['seconds']:.1f} s "
        f"({video['every_frame']['frames_per_s']:.1f} frames/s) with `--detect-interval 0` (every frame). Against "
        f"every frame: the same label on {video['label_agreement']:.1%} of frames, mean box IoU "
        f"{video['mean_box_iou']:.3f}, mean largest score difference {video['mean_score_difference']:.4f}; frames "
        f"with a face {video['frames_with_a_face']['default']} vs {video['frames_with_a_face']['every_frame']}."
        + (f" fer: {fer['video']['frames']} decoded frames through `detect_emotions`." if fer else ""),
        "",
        f"Accuracy of the shipped int8 graph on PublicTest ({accuracy['faces']:,} faces, FER2013 labels): "
        f"{accuracy['int8']:.4f} against {accuracy['pytorch_fp32']:.4f} for the PyTorch weights "
        f"({(accuracy['int8'] - accuracy['pytorch_fp32']) * 100:+.2f} points; the same label on "
        f"{accuracy['label_agreement']:.1%} of faces).",
        "",
        f"One face: {FACES} PublicTest faces timed one at a time (median), in {len(report['per_face_rounds'])} "
        "rounds that alternate fer-hub's graphs and fer's model; the figure is the median round: "
        + "; ".join(
            ", ".join(f"{name} {ms:.3f}" for name, ms in one["fer-hub"].items())
            + (f", fer {one['fer']:.3f}" if "fer" in one else "")
            for one in report["per_face_rounds"]
        )
        + " ms.",
        "",
        "Photos (ms, faces found / annotated):",
        "",
        "| photo | fer-hub | fer |",
        "|---|---|---|",
    ]
    for name, ours in report["photos"].items():
        theirs = f"{fer['photos'][name]['ms']:.1f} ms, {len(fer['photos'][name]['boxes'])} found" if fer else "-"
        lines.append(f"| {name} | {ours['ms']:.1f} ms, {len(ours['boxes'])} found | {theirs} |")
    lines += ["", f"`fer-hub predict` runs (s): {report['command']['runs_s']}", ""]
    if fer:
        lines.append(f"fer {fer['fer_version']}: Haar cascade and its int8 TFLite model, TensorFlow with one thread.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
