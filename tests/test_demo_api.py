"""The launched demo's `/predict` endpoint through gradio_client, and the UI handlers in process."""

from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from fer_hub.demo.http_api import predict_over_http
from fer_hub.errors import FerHubError
from fer_hub.labels import LABELS


@pytest.fixture(scope="module")
def client(demo_url):
    return Client(demo_url, verbose=False)


def assert_face(face, image_size):
    x, y, w, h = face["box"]
    assert 0 <= x < x + w <= image_size[0] and 0 <= y < y + h <= image_size[1]
    assert list(face["scores"]) == list(LABELS)
    assert sum(face["scores"].values()) == pytest.approx(1.0, abs=1e-4)
    assert face["label"] == max(face["scores"], key=face["scores"].get)


@pytest.mark.slow
def test_the_astronaut_has_one_boxed_face_with_7_scores(client, astronaut_png):
    result = client.predict(handle_file(str(astronaut_png)), api_name="/predict")
    assert result["message"] == "1 face found" and "error" not in result
    (face,) = result["faces"]
    assert_face(face, (512, 512))
    assert 150 < face["box"][0] < 260 and 40 < face["box"][1] < 130  # where her face is


@pytest.mark.slow
def test_each_bad_input_gets_a_clear_message_and_the_app_keeps_serving(client, bad_images, astronaut_png):
    for name, (path, phrase) in bad_images.items():
        result = client.predict(handle_file(str(path)), api_name="/predict")
        assert result["error"] is True and result["faces"] == [], name
        assert result["message"].startswith(f"{name}: ") and phrase in result["message"]
        assert "Traceback" not in result["message"]
    assert client.predict(handle_file(str(astronaut_png)), api_name="/predict")["message"] == "1 face found"


@pytest.mark.slow
def test_awkward_formats_are_read(client, odd_images):
    results = {name: client.predict(handle_file(str(path)), api_name="/predict") for name, path in odd_images.items()}
    for name, result in results.items():
        assert len(result["faces"]) == 1, (name, result["message"])
    huge = results["huge.jpg"]["faces"][0]  # detected at a reduced size, reported in the uploaded image's coordinates
    assert_face(huge, (2560, 2560))
    assert huge["box"][2] > 400


@pytest.mark.slow
def test_no_face_says_so_and_whole_image_classifies_the_crop(client, tmp_path):
    crop = tmp_path / "crop.png"
    Image.new("L", (48, 48), 90).save(crop)
    result = client.predict(handle_file(str(crop)), api_name="/predict")
    assert (
        result["faces"] == [] and result["message"].startswith("no face found") and "whole_image" in result["message"]
    )
    result = client.predict(handle_file(str(crop)), whole_image=True, tta=True, api_name="/predict")
    (face,) = result["faces"]
    assert face["box"] == [0, 0, 48, 48]
    assert_face(face, (48, 48))


@pytest.mark.slow
def test_only_the_offered_models_can_be_picked(client, astronaut_png):
    result = client.predict(handle_file(str(astronaut_png)), model="someone/else", api_name="/predict")
    assert result["error"] is True and "unknown model 'someone/else'" in result["message"]


@pytest.mark.slow
def test_concurrent_requests_are_all_answered(client, astronaut_png):
    jobs = [client.submit(handle_file(str(astronaut_png)), api_name="/predict") for _ in range(8)]
    assert [len(job.result(timeout=120)["faces"]) for job in jobs] == [1] * 8


# --- the UI handlers, in process ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def handlers():
    from fer_hub.demo.app import FerDemo

    return FerDemo()


def test_upload_handler_boxes_the_face_and_draws_its_card(handlers, astronaut_png):
    photo, image, message, cards, result, button = handlers.analyze_upload(
        {"path": str(astronaut_png), "orig_name": "astronaut.png"}, "sepnet.ferplus", False, False
    )
    assert message == "**1 face found**" and button["visible"] is False
    assert photo == gr.skip()  # the uploaded photo stays as it is
    assert cards.count('class="fer-face"') == 1 and all(f">{name}<" in cards for name in LABELS)
    x, y, w, h = result["faces"][0]["box"]
    original = np.asarray(Image.open(astronaut_png).convert("RGB"), dtype=np.int16)
    changed = np.abs(np.asarray(Image.open(image), dtype=np.int16) - original).sum(axis=2) > 60
    assert changed[y + h // 2, x : x + 4].any() and not changed[y + h // 2, x + w // 2]  # boxed, face left visible


def test_a_result_served_to_a_browser_is_never_rewritten_by_the_next_one(handlers, astronaut_png, tmp_path):
    """The same photo twice (a still webcam, two visitors on one example): each annotated image reaches gradio's
    cache as its own file, so a browser still reading the first never gets it truncated by the second."""
    from gradio.processing_utils import save_file_to_cache

    frame = np.asarray(Image.open(astronaut_png).convert("RGB"))
    first = save_file_to_cache(handlers.analyze_frame(frame, "sepnet.ferplus", False)[0], str(tmp_path))
    served = Path(first).read_bytes(), Path(first).stat().st_mtime_ns
    second = save_file_to_cache(handlers.analyze_frame(frame, "sepnet.ferplus", False)[0], str(tmp_path))
    assert second != first and Path(second).read_bytes() == served[0]  # the same image, in another file
    assert (Path(first).read_bytes(), Path(first).stat().st_mtime_ns) == served


def test_upload_handler_offers_whole_image_when_no_face_is_found(handlers, tmp_path):
    crop = tmp_path / "crop.png"
    Image.new("L", (48, 48), 90).save(crop)
    _, image, message, cards, result, button = handlers.analyze_upload(
        {"path": str(crop)}, "sepnet.ferplus", False, False
    )
    assert "No face found" in message and "Whole image is one face" in message
    assert cards == "" and result["faces"] == [] and button["visible"] is True
    assert Image.open(image).size == (320, 320)  # small crops are enlarged for display


def test_upload_handler_explains_a_bad_file(handlers, bad_images):
    path, phrase = bad_images["truncated.jpg"]
    photo, image, message, *_ = handlers.analyze_upload(
        {"path": str(path), "orig_name": "holiday.jpg"}, "sepnet.ferplus", False, False
    )
    assert photo is None and image is None  # the unreadable photo is cleared: no broken image stays on the page
    assert message.startswith("**Cannot use this image:** holiday.jpg: ") and phrase in message


def test_webcam_frames_are_annotated(handlers, astronaut_png):
    frame = np.asarray(Image.open(astronaut_png).convert("RGB"))
    image, cards = handlers.analyze_frame(frame, "sepnet.ferplus", True)
    assert Image.open(image).size == (512, 512) and "Face 1:" in cards
    assert (
        handlers.analyze_frame(np.zeros((240, 320, 3), np.uint8), "sepnet.ferplus", False)[1] == "<p>No face found.</p>"
    )


@pytest.mark.slow
def test_plain_http_gives_what_gradio_client_gives(client, demo_url, astronaut_png):
    over_http = predict_over_http(demo_url, astronaut_png)
    assert over_http == client.predict(handle_file(str(astronaut_png)), api_name="/predict")
    assert over_http["faces"] and "error" not in over_http


def test_plain_http_to_no_server_is_a_clear_error(astronaut_png):
    with pytest.raises(FerHubError, match="127.0.0.1:9/: /predict failed"):
        predict_over_http("http://127.0.0.1:9/", astronaut_png, timeout=5)
