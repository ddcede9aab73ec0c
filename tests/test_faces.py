"""FaceDetector: Haar-cascade boxes [x, y, w, h] in the coordinates of the image given."""

import threading

import numpy as np
import pytest
from PIL import Image

from fer_hub.faces import FaceDetector

# Where the astronaut's face is in skimage's 512x512 photo (centre of the face, by eye).
FACE_CENTRE = (224, 116)


@pytest.fixture(scope="module")
def photo(astronaut_png):
    return Image.open(astronaut_png).convert("RGB")


def centre(box):
    x, y, w, h = box
    return x + w / 2, y + h / 2


def test_finds_the_one_face_of_the_astronaut(photo):
    boxes = FaceDetector().detect(photo)
    assert len(boxes) == 1
    (cx, cy), (_, _, w, h) = centre(boxes[0]), boxes[0]
    assert abs(cx - FACE_CENTRE[0]) < 25 and abs(cy - FACE_CENTRE[1]) < 25
    assert 60 < w < 160 and w == h
    assert all(isinstance(value, int) for value in boxes[0])


def test_boxes_are_in_original_coordinates_when_detection_downscales(photo):
    detector = FaceDetector(max_side=480)
    small = detector.detect(photo)[0]
    large = detector.detect(photo.resize((1536, 1536)))[0]  # detected at 480, reported at 1536
    assert np.allclose(large, np.array(small) * 3, atol=0.12 * small[2] * 3)


def test_every_face_is_found_largest_first(photo):
    pair = Image.new("RGB", (1024, 512))
    pair.paste(photo, (0, 0))
    pair.paste(photo.resize((384, 384)), (600, 64))
    boxes = FaceDetector(max_side=1024).detect(pair)
    assert len(boxes) == 2
    assert boxes[0][2] > boxes[1][2] and centre(boxes[0])[0] < 512 < centre(boxes[1])[0]


def test_no_face_in_a_blank_image():
    assert FaceDetector().detect(Image.new("RGB", (320, 240), "gray")) == []


def test_arrays_give_the_same_boxes_as_pil(photo):
    detector = FaceDetector()
    expected = detector.detect(photo)
    assert detector.detect(np.asarray(photo)) == expected
    assert detector.detect(np.asarray(photo.convert("L"))) == expected


def test_threads_can_detect_at_once(photo):
    detector, results = FaceDetector(), []
    threads = [threading.Thread(target=lambda: results.append(detector.detect(photo))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(result == results[0] for result in results)
