"""The demo's pictures and panels, in process: boxes and labels sized to the image in one colour per expression, the
face cards (crop, label, scores in the same colours), the example sets, the model panel, and the ZeroGPU decorator."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fer_hub.inference.recognizer import Face
from fer_hub.labels import LABELS
from fer_hub.media.annotation import CROP_SIDE, EXPRESSION_COLORS, MIN_DISPLAY_SIDE, draw_faces, face_cards


def face(box, label: str, top: float = 0.9) -> Face:
    rest = (1 - top) / (len(LABELS) - 1)
    return Face(box, {name: top if name == label else rest for name in LABELS})


def rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])


def label_height(annotated: Image.Image, color: str) -> int:
    """Rows of the image whose pixels are mostly the label's fill colour (the label box above the face box)."""
    pixels = np.asarray(annotated.convert("RGB"), dtype=np.int16)
    filled = (np.abs(pixels - rgb(color)).sum(axis=2) < 30).sum(axis=1)
    return int((filled > 0.5 * filled.max()).sum())


@pytest.mark.parametrize("label", ["happy", "angry", "neutral"])
def test_the_box_takes_the_colour_of_its_expression(label):
    annotated = draw_faces(Image.new("RGB", (600, 400), "white"), [face((200, 150, 120, 120), label)])
    pixels = np.asarray(annotated, dtype=np.int16)
    assert np.abs(pixels[210, 200] - rgb(EXPRESSION_COLORS[label])).sum() < 30  # the box's left edge
    assert len(set(EXPRESSION_COLORS.values())) == len(LABELS) == len(EXPRESSION_COLORS)


def test_the_label_grows_with_the_image():
    small = draw_faces(Image.new("RGB", (640, 480), "white"), [face((200, 150, 200, 200), "happy")])
    large = draw_faces(Image.new("RGB", (3200, 2400), "white"), [face((1000, 750, 1000, 1000), "happy")])
    ratio = label_height(large, EXPRESSION_COLORS["happy"]) / label_height(small, EXPRESSION_COLORS["happy"])
    assert 4 < ratio < 6  # the image is 5 times larger: so is its label, so both read the same once displayed


def test_small_images_are_enlarged_smoothly_not_in_pixel_blocks():
    tiny = Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 20, 3), dtype=np.uint8))
    shown = draw_faces(tiny, [])
    assert max(shown.size) == MIN_DISPLAY_SIDE and shown.size[0] == shown.size[1]
    row = np.asarray(shown)[MIN_DISPLAY_SIDE // 2, :, 0].astype(int)
    runs = np.count_nonzero(np.diff(row)) + 1
    assert runs > 4 * 20  # nearest-neighbour zoom would give 20 flat runs of 16 pixels
    photo = Image.new("RGB", (800, 600))
    assert draw_faces(photo, []).size == (800, 600)  # ordinary photos keep their size


def test_each_face_gets_a_card_with_its_crop_label_and_scores_likeliest_first():
    image = Image.new("RGB", (640, 480), "gray")
    faces = [face((40, 40, 200, 200), "surprise", 0.7), face((400, 200, 60, 60), "sad", 0.55)]
    html = face_cards(image, faces)

    cards = re.findall(r'<div class="fer-face" data-label="(\w+)".*?border:2px solid (#\w+)', html)
    assert cards == [("surprise", EXPRESSION_COLORS["surprise"]), ("sad", EXPRESSION_COLORS["sad"])]
    assert "Face 1: surprise 70%" in html and "Face 2: sad 55%" in html
    crops = [Image.open(io.BytesIO(base64.b64decode(data))) for data in re.findall(r"base64,([^\"]+)", html)]
    assert [max(crop.size) for crop in crops] == [CROP_SIDE, CROP_SIDE]  # the 60-pixel face is enlarged too
    first_card = html.split('class="fer-face"')[1]
    names = re.findall(r'<span style="width:58px">(\w+)</span>', first_card)
    assert names[0] == "surprise" and sorted(names) == sorted(LABELS)
    for name in LABELS:  # each class's bar in that class's colour, as in the boxes
        assert f"background:{EXPRESSION_COLORS[name]};" in first_card
    assert face_cards(image, []) == ""


def test_card_numbers_follow_the_given_face_ids():
    html = face_cards(Image.new("RGB", (100, 100)), [face((10, 10, 50, 50), "fear")], numbers=[7])
    assert "Face 7: fear" in html


# --- example sets --------------------------------------------------------------------------------


def test_examples_come_in_labelled_sets_and_only_fer2013_crops_are_whole_faces():
    from fer_hub.demo.app import SPACE_EXAMPLES, example_sets

    sets = example_sets(SPACE_EXAMPLES)
    assert [name for name, *_ in sets] == ["group", "faces", "fer2013"]
    titles = [title for _, title, _, _ in sets]
    assert titles[:2] == ["Group photo", "Single faces"] and titles[2].startswith("FER2013")
    files = [path for _, _, members, _ in sets for path in members]
    assert sorted(files) == sorted(str(path) for path in SPACE_EXAMPLES.iterdir() if path.suffix in (".jpg", ".png"))
    for _, title, members, whole_image in sets:
        assert whole_image == title.startswith("FER2013")
        assert all(("fer2013_" in path) == whole_image for path in members)
    group = Image.open(sets[0][2][0])
    assert min(group.size) >= 400  # a photo to detect faces in, not a crop


# --- the model panel -----------------------------------------------------------------------------


def test_the_panel_reads_the_default_models_metrics_and_counts_its_parameters():
    from fer_hub.demo.model_info import model_facts
    from fer_hub.inference.classifier import load_model_classifier
    from fer_hub.models.factory import load_checkpoint
    from fer_hub.models.pretrained import DEFAULT_MODEL_DIR

    metrics = json.loads((DEFAULT_MODEL_DIR / "metrics.json").read_text())
    classifier = load_model_classifier("sepnet.ferplus")
    facts = model_facts("sepnet.ferplus", classifier)
    assert facts.accuracy == metrics["accuracy"] and facts.f1_macro == metrics["f1_macro"]
    model, _ = load_checkpoint(DEFAULT_MODEL_DIR)
    assert facts.parameters == sum(p.numel() for p in model.parameters()) > 100_000  # counted in its ONNX copy
    text = facts.markdown()
    assert f"accuracy **{metrics['accuracy']:.3f}**" in text and f"macro-F1 **{metrics['f1_macro']:.3f}**" in text
    trained_on = "trained on FER+ votes" if metrics["training"]["labels"] == "ferplus" else "trained on FER2013 labels"
    assert "PublicTest" in text and trained_on in text and "M parameters" in text
    if "ferplus_majority" in metrics:
        assert f"**{metrics['ferplus_majority']['accuracy']:.3f}**" in text


def test_the_panel_names_fer_plus_training_and_both_label_sets(tmp_path):
    from fer_hub.demo.model_info import ModelFacts, read_model_metrics

    metrics = {
        "split": "validation",
        "n": 3589,
        "model": "sepnet",
        "accuracy": 0.61,
        "f1_macro": 0.52,
        "ferplus_majority": {"accuracy": 0.84, "f1_macro": 0.66, "n": 3100},
        "training": {"labels": "ferplus"},
    }
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    assert read_model_metrics(str(tmp_path)) == metrics
    facts = ModelFacts("mine", "sepnet", "ferplus", "validation", 3589, 0.61, 0.52, 0.84, 0.66, 405_000)
    text = facts.markdown()
    assert "trained on FER+ votes" in text and "**0.840** / **0.660** against the FER+ majority" in text
    assert "accuracy **0.610**, macro-F1 **0.520** (FER2013 labels)" in text


def test_a_model_without_metrics_says_so(tmp_path):
    from fer_hub.demo.model_info import ModelFacts, read_model_metrics

    assert read_model_metrics(str(tmp_path)) is None
    (tmp_path / "metrics.json").write_text("{not json")
    assert read_model_metrics(str(tmp_path)) is None
    assert "no metrics.json" in ModelFacts("mine").markdown()


def test_the_demo_panel_gives_the_models_scores_and_latency():
    from fer_hub.demo.app import FerDemo

    panel = FerDemo().model_panel("sepnet.ferplus")
    assert re.search(r"\d+\.\d ms to classify a face", panel) and "PublicTest" in panel


# --- ZeroGPU ---------------------------------------------------------------------------------------

ZERO_GPU_CHECK = """
import sys, types
decorated = []
def GPU(task=None, *, duration=None, size=None):  # the signature of spaces.GPU
    def wrap(function):
        decorated.append((function.__name__, duration))
        return function
    return wrap if task is None else wrap(task)
sys.modules["spaces"] = types.SimpleNamespace(GPU=GPU)
from fer_hub.demo.app import GPU_SECONDS, build_demo
build_demo(examples_dir=None)
names = sorted(name for name, duration in decorated if duration == GPU_SECONDS)
print(names)
"""


@pytest.mark.slow
def test_inference_handlers_get_the_zero_gpu_decorator_when_spaces_is_installed():
    result = subprocess.run([sys.executable, "-c", ZERO_GPU_CHECK], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    # only the forward pass: detection, drawing, the webcam stream and the video tab stay on the CPU
    assert result.stdout.strip().splitlines()[-1] == "['gpu_probabilities']"


def test_without_spaces_the_decorator_does_nothing():
    from fer_hub.demo.app import zero_gpu

    with pytest.raises(ImportError):  # the project's environment has no `spaces` (the repo's `spaces/` folder of
        from spaces import GPU  # noqa: F401  # Space files is no package): the local demo must not need it
    handler = lambda: None  # noqa: E731
    assert zero_gpu(duration=20)(handler) is handler


def test_only_the_forward_pass_of_a_photo_goes_to_the_gpu_function(monkeypatch, astronaut_png):
    """Photos and API calls classify their crops through `gpu_probabilities` (ZeroGPU's decorated function), after
    detection on the CPU; webcam frames never ask for a GPU worker."""
    from fer_hub.demo import app

    calls = []
    real = app.gpu_probabilities

    def spy(model, crops, tta):
        calls.append((model, [crop.size for crop in crops], tta))
        return real(model, crops, tta)

    monkeypatch.setattr(app, "gpu_probabilities", spy)
    handlers = app.FerDemo()
    result = handlers.predict({"path": str(astronaut_png)})
    assert len(result["faces"]) == 1 and len(calls) == 1
    model, sizes, tta = calls[0]
    assert model == "sepnet.ferplus" and len(sizes) == 1 and tta is False  # one crop: the detected face

    frame = np.asarray(Image.open(astronaut_png).convert("RGB"))
    handlers.analyze_frame(frame, "sepnet.ferplus", False)
    assert len(calls) == 1


def test_torch_logits_feed_the_model_on_the_device_it_is_on():
    import torch

    from fer_hub.inference.recognizer import get_recognizer
    from fer_hub.inference.torch_logits import TorchLogits

    logits = get_recognizer("cnn.fer2013").classifier.logits
    assert isinstance(logits, TorchLogits) and next(logits.model.parameters()).device == torch.device("cpu")
    pixels = np.random.default_rng(0).random((2, 1, 48, 48), dtype=np.float32)
    with torch.no_grad():
        expected = logits.model(pixel_values=torch.from_numpy(pixels)).logits.numpy()
    assert np.allclose(logits(pixels), expected, atol=1e-6)
    if torch.cuda.is_available():  # the demo's ZeroGPU worker moves the model; the pixels follow it
        logits.model.to("cuda")
        assert np.allclose(logits(pixels), expected, atol=1e-4)
        logits.model.to("cpu")
