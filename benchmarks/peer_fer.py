"""The `fer` side of benchmarks/peers.py, run by that script with the Python of a separate environment where `fer`
is installed (fer==25.10.3 without its dependencies, tensorflow-cpu, opencv-contrib-python-headless<5). Reads a JSON
job from stdin and prints one JSON line of measurements; one thread (TensorFlow, OpenCV), pinned to the core the
job names. Imports nothing from fer-hub.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    job = json.load(sys.stdin)
    os.sched_setaffinity(0, {job["core"]})
    import cv2
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    cv2.setNumThreads(1)
    from fer.fer import FER

    report = {"fer_version": __import__("importlib.metadata").metadata.version("fer")}
    if job.get("per_face_only"):  # one of the per-face rounds that alternate with fer-hub's
        report["per_face_ms"] = per_face_ms(tf, cv2, np, job)
        print(json.dumps(report))
        return
    detector = FER()  # its defaults: Haar cascade, the int8 TFLite classifier

    photos = {}
    for path in job["photos"]:
        image = cv2.imread(path)
        detector.detect_emotions(image)  # warm-up
        timings = []
        for _ in range(job["photo_repeats"]):
            started = time.perf_counter()
            faces = detector.detect_emotions(image)
            timings.append(time.perf_counter() - started)
        photos[path] = {"ms": statistics.median(timings) * 1000, "boxes": [list(map(int, f["box"])) for f in faces]}
    report["photos"] = photos

    capture = cv2.VideoCapture(job["video"])
    frames, started = 0, time.perf_counter()
    while frames < job["video_frames"]:
        ok, frame = capture.read()
        if not ok:
            break
        detector.detect_emotions(frame)
        frames += 1
    report["video"] = {"frames": frames, "seconds": time.perf_counter() - started}
    print(json.dumps(report))


def per_face_ms(tf, cv2, np, job: dict) -> float:
    """Median ms to classify one face with fer's int8 TFLite model (set the input, invoke, read the output)."""
    interpreter = tf.lite.Interpreter(model_path=job["tflite"], num_threads=1)
    interpreter.allocate_tensors()
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    faces = np.load(job["faces"])  # (N, 48, 48) uint8: FER2013 faces, resized to fer's 64x64 and scaled as fer does
    inputs = [(cv2.resize(face, (64, 64)).astype(np.float32) / 255.0 - 0.5) * 2.0 for face in faces]
    timings = []
    for face in inputs:
        started = time.perf_counter()
        interpreter.set_tensor(source["index"], face[None, :, :, None])
        interpreter.invoke()
        interpreter.get_tensor(target["index"])
        timings.append(time.perf_counter() - started)
    return statistics.median(timings[10:]) * 1000


if __name__ == "__main__":
    main()
