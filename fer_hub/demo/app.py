"""The Gradio demo: every face of a photo or webcam frame boxed and labelled, a model picker, and a JSON API
endpoint `/predict`. The same app runs locally (`fer-hub demo`) and as a Hugging Face Space."""

from __future__ import annotations

import contextlib
import ctypes
import html
import os
from pathlib import Path

try:
    import gradio as gr
except ModuleNotFoundError:  # the `demo` extra is not installed: one error line that names it
    from ..optional import require_installed

    require_installed("gradio", "demo", "the demo")
    raise
import numpy as np
import torch
from gradio.exceptions import InvalidPathError
from PIL import Image

from ..data.image_io import read_image
from ..errors import FerHubError
from ..inference.classifier import Classifier
from ..inference.faces import DETECTOR_NAME, MAX_BOXES_PER_IMAGE, boxes_in_image, check_box_count
from ..inference.recognizer import EmotionRecognizer, Face, count_faces, get_recognizer, model_choices
from ..labels import LABELS
from ..media.annotation import draw_faces, face_cards
from ..models.pretrained import DEFAULT_MODEL
from .model_info import latency_ms, model_facts
from .upload_store import demo_uploads, serving
from .video_tab import video_tab

SPACE_EXAMPLES = Path(__file__).resolve().parents[1] / "space" / "examples"
EXAMPLE_SETS = (  # name (HTML id fer-examples-NAME), file-name prefix ("": the others), title, whole image is one face
    ("group", "group_", "Group photo", False),
    ("faces", "", "Single faces", False),
    ("fer2013", "fer2013_", "FER2013 test faces (48x48 crops, each classified whole)", True),
)
CONCURRENCY_LIMIT = 2  # inference jobs at once (all events share it); the machine's cores are the limit
QUEUE_MAX_SIZE = 64  # waiting jobs beyond this are refused with "queue full"
MAX_FILE_SIZE = "25mb"
M_ARENA_MAX = -8  # glibc's mallopt parameter behind the MALLOC_ARENA_MAX variable
MALLOC_ARENAS = 2  # heaps shared by the serving threads (glibc's default: up to 8 per core, one per busy thread)
MAX_BOXES_PER_REQUEST = MAX_BOXES_PER_IMAGE  # a /predict request carries one image: its boxes are checked first
STATE_SESSIONS = 256  # sessions whose state gradio keeps (~80 KB each; every /predict API call opens one)
NO_FACE_HINT = (
    f"the face detector ({DETECTOR_NAME}) finds faces from about 20 pixels wide, frontal or turned: try a "
    "closer or larger photo. Tick 'Whole image is one face' (or use the button below) only if the photo is "
    "already one cropped face"
)
API_NO_FACE_HINT = (
    "try a closer or larger photo, or pass each face's box as boxes=[[x, y, w, h], ...]; "
    "whole_image=True only if the image is already one cropped face"
)
IMAGE_HEIGHT = 420  # pixels of the page each image takes
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]  # no web-font download: the page works offline
GPU_SECONDS = 20  # ZeroGPU: the longest a photo, a webcam frame or an API call may hold its GPU worker
SHOW_API_DOCS = "() => document.querySelector('button.show-api')?.click()"  # what gradio's "Use via API" does
CSS = """
#fer-photo img, #fer-faces img { object-fit: scale-down; }  /* small images at their size, not blown up */
@media (max-width: 640px) { #fer-photo, #fer-faces { height: 320px !important; } }  /* phones: less empty space */
"""

try:  # Hugging Face ZeroGPU: `spaces.GPU` runs each call of a decorated function in a GPU worker, elsewhere nothing
    from spaces import GPU as zero_gpu

    ZERO_GPU = True
except ImportError:  # the local demo does not need the `spaces` package (a `spaces/` folder without GPU is not it)
    ZERO_GPU = False

    def zero_gpu(**settings):
        return lambda function: function


_GPU_CLASSIFIERS: dict[str, Classifier] = {}  # picker name -> its classifier, for the GPU worker to find by name


def _to_cuda(classifier: Classifier) -> None:
    """Move each PyTorch model of `classifier` (one model or an ensemble's members) to CUDA, feeding it there."""
    for member in getattr(classifier, "members", [classifier]):
        logits = getattr(member, "logits", None)
        model = getattr(logits, "model", None)
        if isinstance(model, torch.nn.Module):  # TorchLogits feed the model on the device it is on
            model.to("cuda")


@zero_gpu(duration=GPU_SECONDS)
def gpu_probabilities(model: str, crops: list, tta: bool) -> np.ndarray:
    """The only GPU work: the forward pass over the face crops of one request (detection, cropping and drawing run
    on the CPU before and after). On ZeroGPU this runs in a GPU worker and the model moves to CUDA here, as ZeroGPU
    requires; elsewhere it runs in place, on CUDA when there is one and `spaces` is installed, else on the CPU."""
    classifier = _GPU_CLASSIFIERS[model]
    if ZERO_GPU and torch.cuda.is_available():
        _to_cuda(classifier)
    return classifier.probabilities(crops, tta=tta)


class GpuClassifier(Classifier):
    """A picker model's classifier whose forward passes go through `gpu_probabilities` (ZeroGPU's decorated
    function): the recognizer built on it detects and crops faces on the CPU and asks for a GPU only to classify."""

    def __init__(self, model: str, classifier: Classifier):
        _GPU_CLASSIFIERS[model] = classifier
        self.model = model
        self.name = classifier.name

    def probabilities(self, images, tta: bool = False, batch_size: int | None = None) -> np.ndarray:
        crops = list(images)
        if not crops:
            return np.empty((0, len(LABELS)), dtype=np.float32)
        return gpu_probabilities(self.model, crops, tta)


class FerDemo:
    """The demo's handlers, bound to the models the picker offers."""

    def __init__(self, models: list[str] | None = None, trust_remote_code: bool = False, device: str = "cpu"):
        self.choices = model_choices(models)  # picker name -> model references (several: an ensemble)
        self.models = list(self.choices)
        self.trust_remote_code = trust_remote_code
        self.device = device
        self._panels: dict[str, str] = {}
        self._gpu_recognizers: dict[str, EmotionRecognizer] = {}
        warm = self.recognizer(self.models[0])  # a model that cannot load fails now, not on the first request
        warm.recognize(Image.new("RGB", (64, 64)), whole_image=True)

    def recognizer(self, model: str) -> EmotionRecognizer:
        """The picked model's recognizer, all on the CPU (the webcam stream and the video tab: no GPU per frame)."""
        if model not in self.models:
            raise FerHubError(f"unknown model {model!r}; this demo offers: {', '.join(self.models)}")
        return get_recognizer(self.choices[model], trust_remote_code=self.trust_remote_code, device=self.device)

    def gpu_recognizer(self, model: str) -> EmotionRecognizer:
        """The picked model's recognizer for photos and API calls: faces found and cropped on the CPU, classified
        through ZeroGPU's decorated `gpu_probabilities`."""
        if model not in self._gpu_recognizers:
            recognizer = self.recognizer(model)
            self._gpu_recognizers[model] = EmotionRecognizer(
                GpuClassifier(model, recognizer.classifier), recognizer.detector
            )
        return self._gpu_recognizers[model]

    def model_panel(self, model: str) -> str:
        """UI: what the picked model learned from, its scores, its size and its speed."""
        if model not in self._panels:
            classifier = self.recognizer(model).classifier
            members = getattr(classifier, "members", [classifier])  # an ensemble's models, or the one model
            lines = [model_facts(name, member).markdown() for name, member in zip(self.choices[model], members)]
            if len(members) > 1:
                lines.insert(0, f"**{model}**: the mean of {len(members)} models' probabilities")
            speed = latency_ms(classifier)
            lines.append(f"{speed:.1f} ms to classify a face on this server's CPU (measured here, once)")
            self._panels[model] = "\n\n".join(lines)
        return self._panels[model]

    def _analyze(
        self, file: dict | None, model: str, tta: bool, whole_image: bool, boxes: list[list[float]] | None = None
    ) -> tuple[Image.Image, list[Face], dict]:
        if not file or not file.get("path"):
            raise FerHubError("no image was given")
        loaded = read_image(file["path"], name=file.get("orig_name") or Path(file["path"]).name)
        if boxes:
            boxes = boxes_in_image(boxes, loaded.image.size, loaded.scale)
        faces = self.gpu_recognizer(model).recognize(loaded.image, tta=tta, whole_image=whole_image, boxes=boxes)
        result = {"faces": [face.to_dict(loaded.scale) for face in faces], "message": count_faces(faces)}
        return loaded.image, faces, result

    def predict(
        self,
        image: gr.FileData,
        model: str = DEFAULT_MODEL,
        tta: bool = False,
        whole_image: bool = False,
        boxes: list[list[float]] | None = None,
    ) -> dict:
        """Every face of one image: {"faces": [{"box": [x, y, w, h], "label", "scores": {7 classes}}], "message"}.
        On bad input: {"faces": [], "message": what is wrong, "error": true}.

        Args:
            image: an image file (JPEG, PNG, GIF, WebP, TIFF, BMP).
            model: one of the models the demo offers ("sepnet.ferplus": the embedded default).
            tta: also classify the mirrored faces and average.
            whole_image: classify the whole image as one face (already-cropped faces), skipping detection.
            boxes: face boxes [[x, y, w, h], ...] in the image's pixels to classify instead of detecting faces
                (at most MAX_BOXES_PER_REQUEST: 100).
        """
        try:
            check_api_arguments(model, tta, whole_image, boxes)
            result = self._analyze(image, model, tta, whole_image, boxes)[2]
        except FerHubError as error:
            return {"faces": [], "message": str(error), "error": True}
        if not result["faces"]:
            result["message"] += f" ({API_NO_FACE_HINT})"
        return result

    def analyze_upload(self, file: dict | None, model: str, tta: bool, whole_image: bool) -> tuple:
        """UI: the photo (cleared when unreadable, so no broken image stays), annotated image, message, face cards,
        JSON, and whether to offer whole-image classification. No photo: nothing changes (see `clear_results`)."""
        if not file:
            return (gr.skip(),) * 6
        try:
            image, faces, result = self._analyze(file, model, tta, whole_image)
        except FerHubError as error:
            return None, None, f"**Cannot use this image:** {error}", "", None, gr.update(visible=False)
        message = f"**{result['message'].capitalize()}**" + ("" if faces else f": {NO_FACE_HINT}.")
        annotated, cards = demo_uploads().new_jpeg(draw_faces(image, faces)), face_cards(image, faces)
        return gr.skip(), annotated, message, cards, result, gr.update(visible=not faces)

    @staticmethod
    def clear_results() -> tuple:
        """UI, the photo removed: no results."""
        return None, "", "", None, gr.update(visible=False)

    def analyze_frame(self, frame: np.ndarray | None, model: str, tta: bool) -> tuple:
        """UI, webcam stream: the annotated frame and the face cards."""
        if frame is None:
            return None, ""
        image = Image.fromarray(frame).convert("RGB")
        try:
            faces = self.recognizer(model).recognize(image, tta=tta)
        except FerHubError as error:
            return demo_uploads().new_jpeg(image), f"<p>{html.escape(str(error))}</p>"
        return demo_uploads().new_jpeg(draw_faces(image, faces)), face_cards(image, faces) or "<p>No face found.</p>"


def check_api_arguments(model, tta, whole_image, boxes) -> None:
    """/predict's arguments are of their types (JSON booleans, not "yes"), and at most MAX_BOXES_PER_REQUEST boxes:
    checked before the image is read, so an oversized request costs nothing."""
    if not isinstance(model, str):
        raise FerHubError(f"model: expected a model name (a string), not {model!r}")
    for name, value in (("tta", tta), ("whole_image", whole_image)):
        if not isinstance(value, bool):
            raise FerHubError(f"{name}: expected true or false, not {value!r}")
    check_box_count(boxes, limit=MAX_BOXES_PER_REQUEST)


class DemoBlocks(gr.Blocks):
    """gr.Blocks whose API calls name a file path that gradio refuses (one not uploaded to this demo) in the
    answer, instead of gradio's bare {"error": null} (the app does not show other errors' texts: show_error=False)."""

    async def preprocess_data(self, *args, **kwargs):
        try:
            return await super().preprocess_data(*args, **kwargs)
        except InvalidPathError as error:
            raise gr.Error(
                f"image: not a file uploaded to this demo; upload it first (POST /gradio_api/upload) and pass the "
                f"path that answers ({error})",
                print_exception=False,
            ) from None


def example_sets(examples_dir: Path | None) -> list[tuple[str, str, list[str], bool]]:
    """(name, title, image files, whole image is one face) for each non-empty set of EXAMPLE_SETS in `examples_dir`."""
    if not examples_dir or not examples_dir.is_dir():
        return []
    files = sorted(path for path in examples_dir.iterdir() if path.suffix.lower() in (".png", ".jpg", ".jpeg"))
    prefixes = tuple(prefix for _, prefix, _, _ in EXAMPLE_SETS if prefix)
    sets = []
    for name, prefix, title, whole_image in EXAMPLE_SETS:
        members = [
            str(path)
            for path in files
            if (path.name.startswith(prefix) if prefix else not path.name.startswith(prefixes))
        ]
        if members:
            sets.append((name, title, members, whole_image))
    return sets


def build_demo(
    models: list[str] | None = None,
    examples_dir: Path | None = SPACE_EXAMPLES,
    trust_remote_code: bool = False,
    device: str = "cpu",
) -> gr.Blocks:
    """The app: a model picker with a panel on the picked model, test-time flip, photo (with its example sets), webcam
    and video tabs, each face boxed on the image and shown on a card, and the `/predict` API. Only the forward pass of
    a photo or an API call carries ZeroGPU's decorator (`gpu_probabilities`); face detection, drawing, the webcam
    stream and the video tab run on the CPU, so the same app runs on ZeroGPU, CPU and GPU hardware."""
    limit_malloc_arenas()  # before the models load and the server's threads start
    demo_uploads()  # the folder for gradio's files, set before any component reads GRADIO_TEMP_DIR
    handlers = FerDemo(models, trust_remote_code=trust_remote_code, device=device)
    limits = {"concurrency_id": "inference", "concurrency_limit": CONCURRENCY_LIMIT}  # one pool for all events
    ui_only = dict(limits, api_visibility="private")
    with DemoBlocks(title="Facial expression recognition", analytics_enabled=False) as demo:
        gr.Markdown(
            f"# Facial expression recognition\nEvery face found (face detector: {DETECTOR_NAME}) is boxed and labelled "
            f"with one of 7 FER2013 expressions: {', '.join(LABELS)}."
        )
        with gr.Row(equal_height=True):
            model = gr.Dropdown(handlers.models, value=handlers.models[0], label="Model", scale=2, min_width=220)
            with gr.Column(scale=3, min_width=260):
                tta = gr.Checkbox(label="Test-time flip: average each face with its mirror image")
                whole = gr.Checkbox(label="Whole image is one face (already-cropped faces, e.g. FER2013's)")
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                model_info = gr.Markdown(elem_id="fer-model-info")
            api_docs = gr.Button("Use it from code: the /predict API", size="sm", scale=0, min_width=240)
        with gr.Tab("Photo"):
            with gr.Row():
                photo = gr.Image(
                    type="filepath",
                    sources=["upload", "clipboard"],
                    label="Photo",
                    elem_id="fer-photo",
                    height=IMAGE_HEIGHT,
                )
                annotated = gr.Image(
                    type="filepath",
                    label="Faces",
                    interactive=False,
                    elem_id="fer-faces",
                    height=IMAGE_HEIGHT,
                )
            message = gr.Markdown(elem_id="fer-message")
            whole_button = gr.Button("Classify the whole image as one face", visible=False)
            cards = gr.HTML(elem_id="fer-cards")
            for name, title, files, whole_image in example_sets(examples_dir):
                examples = gr.Examples(
                    files, inputs=[photo], label=title, examples_per_page=12, elem_id=f"fer-examples-{name}"
                )
                examples.dataset.click(lambda value=whole_image: value, outputs=whole, api_visibility="private")
            with gr.Accordion("JSON (as returned by the /predict API)", open=False):
                result = gr.JSON(label="Result")
        with gr.Tab("Webcam"):
            with gr.Row():
                webcam = gr.Image(
                    sources=["webcam"],
                    streaming=True,
                    type="numpy",
                    label="Webcam",
                    elem_id="fer-webcam",
                    height=IMAGE_HEIGHT,
                )
                webcam_faces = gr.Image(
                    type="filepath", label="Faces", interactive=False, elem_id="fer-webcam-faces", height=IMAGE_HEIGHT
                )
            webcam_cards = gr.HTML(elem_id="fer-webcam-cards")
        video_tab(handlers.recognizer, model, tta, ui_only)

        results = [annotated, message, cards, result, whole_button]
        analyze_upload = handlers.analyze_upload  # its forward pass alone runs under @spaces.GPU (gpu_probabilities)
        gr.on(
            [photo.change, model.change, tta.change, whole.change],
            analyze_upload,
            inputs=[photo, model, tta, whole],
            outputs=[photo, *results],
            preprocess=False,
            trigger_mode="always_last",
            **ui_only,
        )
        photo.clear(handlers.clear_results, outputs=results, api_visibility="private")
        whole_button.click(
            lambda file, model_name, flip: analyze_upload(file, model_name, flip, True),
            inputs=[photo, model, tta],
            outputs=[photo, *results],
            preprocess=False,
            **ui_only,
        )
        gr.on([demo.load, model.change], handlers.model_panel, inputs=model, outputs=model_info, **ui_only)
        api_docs.click(None, js=SHOW_API_DOCS)
        webcam.stream(
            handlers.analyze_frame,  # on the CPU: no GPU worker per webcam frame
            inputs=[webcam, model, tta],
            outputs=[webcam_faces, webcam_cards],
            stream_every=0.25,
            time_limit=120,
            show_progress="hidden",
            **ui_only,
        )
        gr.api(handlers.predict, api_name="predict", **limits)
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_MAX_SIZE)
    return demo


def limit_malloc_arenas() -> None:
    """On glibc, let the request threads share MALLOC_ARENAS heaps, unless MALLOC_ARENA_MAX is set. With a heap per
    thread, memory one request freed sat in its thread's heap while the next request's thread took more: the server's
    resident memory grew 84 to 105 MB over six load runs of 16 clients (tests/test_safety_demo_uploads.py's soak
    test), 47 and 55 MB in two runs with two heaps."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    with contextlib.suppress(OSError, AttributeError):  # not glibc (macOS, Windows, musl): its allocator decides
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def serve(demo: gr.Blocks, host: str | None = None, port: int | None = None) -> None:
    """Launch the app (`fer-hub demo` and the Space) until interrupted. Each request's forward pass runs on
    one thread: requests run side by side instead (CONCURRENCY_LIMIT), and on a busy CPU a tiny batch is
    several times faster than with threads waiting for each other."""
    torch.set_num_threads(1)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no outbound connection (the Blocks say so too)
    uploads = demo_uploads()
    with serving(uploads):  # uploads swept by age and total size, all removed at shutdown
        demo.launch(
            server_name=host,
            server_port=port,
            max_file_size=MAX_FILE_SIZE,
            show_error=False,
            footer_links=["api"],
            theme=gr.themes.Default(font=SYSTEM_FONTS, font_mono=["ui-monospace", "monospace"]),
            css=CSS,
            app_kwargs={"middleware": [uploads.middleware()]},
            state_session_capacity=STATE_SESSIONS,
        )


def launch_demo(
    models: list[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
    trust_remote_code: bool = False,
    device: str = "cpu",
) -> None:
    """`fer-hub demo`: serve the app on the given models (the embedded one if none), with the repo's examples, the
    models on `device` (see `fer_hub.inference.devices`)."""
    serve(build_demo(models or None, trust_remote_code=trust_remote_code, device=device), host, port)
