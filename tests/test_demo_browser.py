"""A real browser (Chromium through playwright) uses the launched demo: upload a photo, see labels and boxes."""

import re

import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def write_y4m(photo: Image.Image, path, frames: int = 3) -> None:
    """A short uncompressed video (YUV4MPEG2, 4:2:0) of a still photo, for Chromium's fake webcam."""
    y, cb, cr = photo.convert("YCbCr").split()
    half = (photo.width // 2, photo.height // 2)
    frame = b"FRAME\n" + y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    header = f"YUV4MPEG2 W{photo.width} H{photo.height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)


@pytest.fixture(scope="module")
def page(demo_url, astronaut_png, tmp_path_factory):
    camera = tmp_path_factory.mktemp("webcam") / "astronaut.y4m"
    canvas = Image.new("RGB", (640, 480), "gray")
    canvas.paste(Image.open(astronaut_png).convert("RGB").resize((480, 480)), (80, 0))
    write_y4m(canvas, camera)
    webcam_args = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                   f"--use-file-for-fake-video-capture={camera}"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + webcam_args)
        page = browser.new_page(viewport={"width": 1280, "height": 1000}, permissions=["camera"])
        page.outside_requests = []
        page.on("request", lambda request: _record_outside(page, request.url))
        page.goto(demo_url)
        yield page
        browser.close()


def _record_outside(page, url: str) -> None:
    if not url.startswith(("http://127.0.0.1:", "data:", "blob:")):
        page.outside_requests.append(url)


def upload(page, path) -> None:
    page.locator("#fer-photo input[type=file]").set_input_files(str(path))


def test_upload_a_photo_and_see_boxed_labelled_faces(page, astronaut_png, tmp_path):
    upload(page, astronaut_png)
    face = page.locator("#fer-bars .fer-face")
    expect(face).to_have_count(1, timeout=60_000)
    expect(face).to_contain_text(re.compile(r"Face 1: (angry|disgust|fear|happy|sad|surprise|neutral) \(\d+%\)"))
    expect(page.locator("#fer-message")).to_contain_text("1 face found")
    annotated = page.locator("#fer-faces img")
    expect(annotated).to_be_visible()
    assert annotated.evaluate("image => image.complete && image.naturalWidth") == 512
    screenshot = tmp_path / "demo.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 50_000
    assert page.outside_requests == []  # the page itself fetches nothing from outside (fonts included)


def test_a_broken_upload_shows_a_message_not_a_crash(page, bad_images):
    path, phrase = bad_images["truncated.png"]
    upload(page, path)
    message = page.locator("#fer-message")
    expect(message).to_contain_text("Cannot use this image: truncated.png: ", timeout=60_000)
    expect(message).to_contain_text(phrase)
    expect(page.locator("#fer-bars .fer-face")).to_have_count(0)


def test_the_webcam_stream_boxes_the_face(page, tmp_path):
    page.get_by_role("tab", name="Webcam").click()
    webcam = page.locator("#fer-webcam")
    webcam.get_by_text("Click to Access Webcam").click()
    webcam.locator("button", has_text="Record").click()
    expect(page.locator("#fer-webcam-bars .fer-face").first).to_contain_text("Face 1:", timeout=60_000)
    page.wait_for_function("document.querySelector('#fer-webcam-faces img')?.naturalWidth === 640")
    page.screenshot(path=str(tmp_path / "webcam.png"))
    webcam.locator("button", has_text="Stop").click()
