"""The Gradio demo: every face of a photo or webcam frame boxed and labelled, a model picker, and a JSON API
endpoint `/predict`. The same app runs locally (`fer-hub demo`) and as a Hugging Face Space."""

from __future__ import annotations

import html
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no outbound connection

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from .annotation import draw_faces, probability_bars  # noqa: E402
from .errors import FerHubError  # noqa: E402
from .image_io import read_image  # noqa: E402
from .inference import EmotionRecognizer, Face, count_faces, get_recognizer  # noqa: E402
from .labels import LABELS  # noqa: E402

DEFAULT_MODEL = "default"  # the picker's name for the embedded model
REPO_EXAMPLES = Path(__file__).resolve().parents[1] / "spaces" / "fer-demo" / "examples"
CONCURRENCY_LIMIT = 2  # inference jobs at once (all events share it); the machine's cores are the limit
QUEUE_MAX_SIZE = 64  # waiting jobs beyond this are refused with "queue full"
MAX_FILE_SIZE = "25mb"
NO_FACE_HINT = "if the image is already a cropped face, tick 'Whole image is one face' or use the button below"
API_NO_FACE_HINT = "if the image is already a cropped face, call again with whole_image=True"
IMAGE_HEIGHT = 420  # pixels of the page each image takes
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]  # no web-font download: the page works offline


class FerDemo:
    """The demo's handlers, bound to the models the picker offers."""

    def __init__(self, models: list[str] | None = None):
        self.models = list(dict.fromkeys([*(models or []), DEFAULT_MODEL]))
        warm = self.recognizer(self.models[0])  # a model that cannot load fails now, not on the first request
        warm.recognize(Image.new("RGB", (64, 64)), whole_image=True)

    def recognizer(self, model: str) -> EmotionRecognizer:
        if model not in self.models:
            raise FerHubError(f"unknown model {model!r}; this demo offers: {', '.join(self.models)}")
        return get_recognizer(None if model == DEFAULT_MODEL else model)

    def _analyze(
        self, file: dict | None, model: str, tta: bool, whole_image: bool
    ) -> tuple[Image.Image, list[Face], dict]:
        if not file or not file.get("path"):
            raise FerHubError("no image was given")
        loaded = read_image(file["path"], name=file.get("orig_name") or Path(file["path"]).name)
        faces = self.recognizer(model).recognize(loaded.image, tta=tta, whole_image=whole_image)
        result = {"faces": [face.to_dict(loaded.scale) for face in faces], "message": count_faces(faces)}
        return loaded.image, faces, result

    def predict(
        self, image: gr.FileData, model: str = DEFAULT_MODEL, tta: bool = False, whole_image: bool = False
    ) -> dict:
        """Every face of one image: {"faces": [{"box": [x, y, w, h], "label", "scores": {7 classes}}], "message"}.
        On bad input: {"faces": [], "message": what is wrong, "error": true}.

        Args:
            image: an image file (JPEG, PNG, GIF, WebP, TIFF, BMP).
            model: one of the models the demo offers ("default": the embedded model).
            tta: also classify the mirrored faces and average.
            whole_image: classify the whole image as one face (already-cropped faces), skipping detection.
        """
        try:
            result = self._analyze(image, model, tta, whole_image)[2]
        except FerHubError as error:
            return {"faces": [], "message": str(error), "error": True}
        if not result["faces"]:
            result["message"] += f" ({API_NO_FACE_HINT})"
        return result

    def analyze_upload(self, file: dict | None, model: str, tta: bool, whole_image: bool) -> tuple:
        """UI: annotated image, message, probability bars, JSON, and whether to offer whole-image classification."""
        if not file:
            return None, "", "", None, gr.update(visible=False)
        try:
            image, faces, result = self._analyze(file, model, tta, whole_image)
        except FerHubError as error:
            return None, f"**Cannot use this image:** {error}", "", None, gr.update(visible=False)
        message = f"**{result['message'].capitalize()}**" + ("" if faces else f": {NO_FACE_HINT}.")
        return draw_faces(image, faces), message, probability_bars(faces), result, gr.update(visible=not faces)

    def analyze_frame(self, frame: np.ndarray | None, model: str, tta: bool) -> tuple:
        """UI, webcam stream: the annotated frame and the probability bars."""
        if frame is None:
            return None, ""
        image = Image.fromarray(frame).convert("RGB")
        try:
            faces = self.recognizer(model).recognize(image, tta=tta)
        except FerHubError as error:
            return frame, f"<p>{html.escape(str(error))}</p>"
        return draw_faces(image, faces), probability_bars(faces) or "<p>No face found.</p>"


def example_rows(examples_dir: Path | None) -> list[list]:
    """Rows [image, whole_image] for the examples gallery: photos are detected, `fer2013_*` crops are whole faces."""
    if not examples_dir or not examples_dir.is_dir():
        return []
    files = sorted(path for path in examples_dir.iterdir() if path.suffix.lower() in (".png", ".jpg", ".jpeg"))
    return [[str(path), path.name.startswith("fer2013_")] for path in files]


def build_demo(models: list[str] | None = None, examples_dir: Path | None = REPO_EXAMPLES) -> gr.Blocks:
    """The app: photo and webcam tabs, model picker, test-time flip, examples, and the `/predict` API."""
    handlers = FerDemo(models)
    with gr.Blocks(title="Facial expression recognition", analytics_enabled=False) as demo:
        gr.Markdown(
            "# Facial expression recognition\nEvery face found (OpenCV Haar cascade) is boxed and labelled with one "
            f"of 7 FER2013 expressions: {', '.join(LABELS)}."
        )
        with gr.Row():
            model = gr.Dropdown(handlers.models, value=handlers.models[0], label="Model", scale=3)
            tta = gr.Checkbox(label="Test-time flip (average with the mirrored face)", scale=2)
            whole = gr.Checkbox(label="Whole image is one face (already-cropped faces, e.g. FER2013)", scale=2)
        with gr.Tab("Photo"):
            with gr.Row():
                photo = gr.Image(
                    type="filepath", sources=["upload", "clipboard"], label="Photo", elem_id="fer-photo",
                    height=IMAGE_HEIGHT,
                )
                annotated = gr.Image(
                    type="pil", format="jpeg", label="Faces", interactive=False, elem_id="fer-faces",
                    height=IMAGE_HEIGHT,
                )
            message = gr.Markdown(elem_id="fer-message")
            whole_button = gr.Button("Classify the whole image as one face", visible=False)
            bars = gr.HTML(elem_id="fer-bars")
            with gr.Accordion("JSON (as returned by the /predict API)", open=False):
                result = gr.JSON(label="Result")
            rows = example_rows(examples_dir)
            if rows:
                gr.Examples(rows, inputs=[photo, whole], label="Examples (the FER2013 crops are whole faces)")
        with gr.Tab("Webcam"):
            with gr.Row():
                webcam = gr.Image(
                    sources=["webcam"], streaming=True, type="numpy", label="Webcam", elem_id="fer-webcam",
                    height=IMAGE_HEIGHT,
                )
                webcam_faces = gr.Image(
                    label="Faces", format="jpeg", interactive=False, elem_id="fer-webcam-faces", height=IMAGE_HEIGHT
                )
            webcam_bars = gr.HTML(elem_id="fer-webcam-bars")

        limits = dict(concurrency_id="inference", concurrency_limit=CONCURRENCY_LIMIT)  # one pool for all events
        ui_only = dict(limits, api_visibility="private")
        outputs = [annotated, message, bars, result, whole_button]
        gr.on(
            [photo.change, model.change, tta.change, whole.change], handlers.analyze_upload,
            inputs=[photo, model, tta, whole], outputs=outputs, preprocess=False, trigger_mode="always_last",
            **ui_only,
        )
        whole_button.click(
            lambda file, model_name, flip: handlers.analyze_upload(file, model_name, flip, True),
            inputs=[photo, model, tta], outputs=outputs, preprocess=False, **ui_only,
        )
        webcam.stream(
            handlers.analyze_frame, inputs=[webcam, model, tta], outputs=[webcam_faces, webcam_bars],
            stream_every=0.25, time_limit=120, show_progress="hidden", **ui_only,
        )
        gr.api(handlers.predict, api_name="predict", **limits)
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_MAX_SIZE)
    return demo


def serve(demo: gr.Blocks, host: str | None = None, port: int | None = None) -> None:
    """Launch the app (`fer-hub demo` and the Space) until interrupted. Each request's forward pass runs on
    one thread: requests run side by side instead (CONCURRENCY_LIMIT), and on a busy CPU a tiny batch is
    several times faster than with threads waiting for each other."""
    torch.set_num_threads(1)
    demo.launch(
        server_name=host, server_port=port, max_file_size=MAX_FILE_SIZE, show_error=False, footer_links=["api"],
        theme=gr.themes.Default(font=SYSTEM_FONTS, font_mono=["ui-monospace", "monospace"]),
    )


def launch_demo(models: list[str] | None = None, host: str = "127.0.0.1", port: int = 7860) -> None:
    """`fer-hub demo`: serve the app on the given models (the embedded one if none), with the repo's examples."""
    serve(build_demo(models or None), host, port)


@contextmanager
def demo_in_subprocess(startup_timeout: float = 180) -> Iterator[str]:
    """`fer-hub demo` in a child process on a free port of 127.0.0.1, for tests and benchmarks: yields its URL
    once the app answers, and stops it afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "fer_hub", "demo", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while not _answers(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"fer-hub demo did not start:\n{log.read()[-4000:]}")
                time.sleep(0.5)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except OSError:
        return False
    return True
