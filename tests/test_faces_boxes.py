"""Caller-supplied face boxes: classified as given, without detection, from Python, `fer-hub predict --boxes` and the
demo's `/predict` API; bad boxes are clear errors."""

import json

import pytest
from gradio_client import Client, handle_file
from PIL import Image

from fer_hub.cli.main import main
from fer_hub.demo.http_api import predict_over_http
from fer_hub.errors import FerHubError
from fer_hub.inference.recognizer import EmotionRecognizer, get_recognizer
from fer_hub.labels import LABELS

FACE = [178, 68, 96, 114]  # the astronaut's face in skimage's 512x512 photo
CORNER = [0, 0, 100, 100]  # no face: classified all the same


class NoDetector:
    def detect(self, image):
        raise AssertionError("boxes were given: nothing may be detected")


@pytest.fixture(scope="module")
def recognizer():
    return EmotionRecognizer(get_recognizer().classifier, NoDetector())


@pytest.fixture(scope="module")
def photo(astronaut_png):
    return Image.open(astronaut_png).convert("RGB")


def assert_scores(face):
    assert list(face["scores"]) == list(LABELS) and sum(face["scores"].values()) == pytest.approx(1.0, abs=1e-4)


def test_python_boxes_are_classified_as_given(recognizer, photo):
    faces = recognizer.recognize(photo, boxes=[FACE, CORNER], tta=True)
    assert [face.box for face in faces] == [tuple(FACE), tuple(CORNER)]
    detected = get_recognizer().recognize(photo)[0]  # the same face, detected and classified upright
    assert faces[0].label == detected.label
    assert faces[0].scores != faces[1].scores


@pytest.mark.parametrize(
    "boxes, message",
    [
        ([[500, 0, 100, 100]], r"box 1 \[500, 0, 100, 100\] reaches outside the 512 x 512 image"),
        ([FACE, [10, 10, 0, 10]], r"box 2 \[10, 10, 0, 10\]: width and height must be more than 0"),
        ([[1, 2, 3]], "expected four numbers"),
    ],
)
def test_python_bad_boxes_are_clear_errors(recognizer, photo, boxes, message):
    with pytest.raises(FerHubError, match=message):
        recognizer.recognize(photo, boxes=boxes)


def test_python_boxes_and_whole_image_exclude_each_other(recognizer, photo):
    with pytest.raises(FerHubError, match="not both"):
        recognizer.recognize(photo, boxes=[FACE], whole_image=True)


def test_cli_boxes(astronaut_png, capsys):
    assert main(["predict", "--json", str(astronaut_png), "--boxes", ",".join(map(str, FACE)), "0,0,100,100"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert [face["box"] for face in result["faces"]] == [FACE, CORNER] and result["message"] == "2 faces found"
    for face in result["faces"]:
        assert_scores(face)


def test_cli_boxes_are_in_the_file_pixels_of_a_downscaled_image(odd_images, capsys):
    huge = odd_images["huge.jpg"]  # 2560 x 2560, read as a 2048 x 2048 copy
    box = [value * 5 for value in FACE]
    assert main(["predict", "--json", str(huge), "--boxes", ",".join(map(str, box)), "0,0,2560,2560"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    found = [face["box"] for face in result["faces"]]
    assert found[1] == [0, 0, 2560, 2560]
    assert all(abs(a - b) <= 2 for a, b in zip(found[0], box))


def test_cli_bad_boxes(astronaut_png, capsys):
    assert main(["predict", str(astronaut_png), "--boxes", "400,400,200,50"]) == 2
    err = capsys.readouterr().err
    assert (
        f"fer-hub predict: error: {astronaut_png}: box 1 [400, 400, 200, 50] reaches outside the 512 x 512 image" in err
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", str(astronaut_png), "--boxes", "1,2,3"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --boxes: '1,2,3' is not a face box X,Y,W,H" in err and "Traceback" not in err


def test_cli_boxes_are_for_image_files_only(astronaut_png, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "astronaut.png").write_bytes(astronaut_png.read_bytes())
    assert main(["predict", str(folder), "--boxes", "0,0,10,10"]) == 2
    assert "--boxes applies to image files, not to folders, videos or --csv/--jsonl tables" in capsys.readouterr().err


def test_cli_no_face_says_what_helps(tmp_path, capsys):
    blank = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (90, 90, 90)).save(blank)
    assert main(["predict", str(blank)]) == 0
    out = capsys.readouterr().out
    assert "no face found (try a closer or larger photo, or give each face's box with --boxes X,Y,W,H" in out
    assert "--whole-image only if the image is already one cropped face" in out


@pytest.fixture(scope="module")
def client(demo_url):
    return Client(demo_url, verbose=False)


@pytest.mark.slow
def test_http_boxes(client, demo_url, astronaut_png):
    result = client.predict(handle_file(str(astronaut_png)), boxes=[FACE, CORNER], api_name="/predict")
    assert [face["box"] for face in result["faces"]] == [FACE, CORNER] and "error" not in result
    for face in result["faces"]:
        assert_scores(face)
    assert predict_over_http(demo_url, astronaut_png, boxes=[FACE, CORNER]) == result


@pytest.mark.slow
def test_http_bad_boxes(client, demo_url, astronaut_png):
    result = predict_over_http(demo_url, astronaut_png, boxes=[[0, 0, 513, 10]])
    assert result["error"] is True and result["faces"] == []
    assert result["message"] == "box 1 [0, 0, 513, 10] reaches outside the 512 x 512 image"
    result = client.predict(handle_file(str(astronaut_png)), boxes=[[5, 5, 0, 5]], api_name="/predict")
    assert result["error"] is True and "width and height must be more than 0" in result["message"]


@pytest.mark.slow
def test_http_no_face_says_what_helps(client, tmp_path):
    blank = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (90, 90, 90)).save(blank)
    result = client.predict(handle_file(str(blank)), api_name="/predict")
    assert result["faces"] == [] and result["message"].startswith("no face found (try a closer or larger photo")
    assert "boxes=[[x, y, w, h], ...]" in result["message"] and "whole_image=True only if" in result["message"]
