"""FaceDetector (RetinaFace): boxes [x, y, w, h] and eyes in the coordinates of the image given; upright crops;
caller-supplied boxes checked."""

import threading

import numpy as np
import pytest
from PIL import Image

from fer_hub.errors import FerHubError
from fer_hub.inference.faces import FRAME_RAISE, FRAME_SIDE, MIN_TILT, FaceBox, FaceDetector, boxes_in_image, face_crop

# Where the astronaut's face and eyes are in skimage's 512x512 photo (by eye).
FACE_CENTRE = (226, 125)
EYES = ((204, 101), (247, 103))


@pytest.fixture(scope="module")
def photo(astronaut_png):
    return Image.open(astronaut_png).convert("RGB")


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


def centre(box):
    x, y, w, h = box
    return x + w / 2, y + h / 2


def test_finds_the_one_face_of_the_astronaut_with_its_eyes(detector, photo):
    (face,) = detector.detect(photo)
    (cx, cy), (_, _, w, h) = centre(face.box), face.box
    assert abs(cx - FACE_CENTRE[0]) < 15 and abs(cy - FACE_CENTRE[1]) < 15
    assert 80 < w < 120 and 100 < h < 140
    assert all(isinstance(value, int) for value in face.box)
    for found, expected in zip(face.eyes, EYES):
        assert np.hypot(found[0] - expected[0], found[1] - expected[1]) < 6
    assert abs(face.tilt) < 5


def test_boxes_are_in_original_coordinates_when_detection_downscales(detector, photo):
    small = detector.detect(photo)[0].box
    large = detector.detect(photo.resize((3072, 3072)))[0].box  # detected at 1024, reported at 3072
    assert np.allclose(large, np.array(small) * 6, atol=0.08 * small[2] * 6)


def test_every_face_is_found_largest_first(detector, photo):
    pair = Image.new("RGB", (1024, 512))
    pair.paste(photo, (0, 0))
    pair.paste(photo.resize((384, 384)), (600, 64))
    faces = detector.detect(pair)
    assert len(faces) == 2
    assert faces[0].box[2] > faces[1].box[2] and centre(faces[0].box)[0] < 512 < centre(faces[1].box)[0]


@pytest.mark.parametrize("size", [(320, 240), (33, 17), (1, 1)])
def test_no_face_in_a_blank_image(detector, size):
    assert detector.detect(Image.new("RGB", size, "gray")) == []


def test_arrays_give_the_same_faces_as_pil(detector, photo):
    expected = [face.box for face in detector.detect(photo)]
    assert [face.box for face in detector.detect(np.asarray(photo))] == expected
    assert [face.box for face in detector.detect(np.asarray(photo.convert("RGBA")))] == expected
    gray = [face.box for face in detector.detect(np.asarray(photo.convert("L")))]
    assert len(gray) == 1 and np.allclose(gray[0], expected[0], atol=4)


def test_threads_can_detect_at_once(detector, photo):
    results = []
    threads = [threading.Thread(target=lambda: results.append(detector.detect(photo))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(result == results[0] for result in results)


@pytest.mark.parametrize("angle", [-25, 20])
def test_a_tilted_face_is_cropped_upright(detector, photo, angle):
    tilted = photo.rotate(angle, resample=Image.Resampling.BICUBIC, center=FACE_CENTRE)  # counter-clockwise
    (face,) = detector.detect(tilted)
    assert face.tilt == pytest.approx(3 - angle, abs=9)  # her eyes tilt 3 degrees; the landmarks are rough
    crop = face_crop(tilted, face)
    assert crop.size == (round(max(face.box[2:]) * FRAME_SIDE),) * 2
    (again,) = detector.detect(crop.resize((crop.width * 2, crop.height * 2)))
    assert abs(again.tilt) < MIN_TILT


def test_a_level_face_is_framed_as_fer2013_without_turning(photo):
    eyes = ((200.0, 100.0), (240.0, 102.0))  # 2.9 degrees: below MIN_TILT
    crop = face_crop(photo, FaceBox((180, 60, 90, 120), eyes))
    side = round(120 * FRAME_SIDE)  # a square about the box's centre (225, 120), raised by FRAME_RAISE of its height
    left, top = round(225 - side / 2), round(120 - FRAME_RAISE * 120 - side / 2)
    assert crop.tobytes() == photo.crop((left, top, left + side, top + side)).tobytes()
    edge = face_crop(photo, FaceBox((0, 0, 40, 60), eyes))
    assert edge.size == (round(60 * FRAME_SIDE),) * 2 and np.asarray(edge)[0].max() == 0  # above the image: black


def test_a_callers_box_is_cropped_as_it_is(photo):
    assert face_crop(photo, FaceBox((10, 20, 30, 60))).tobytes() == photo.crop((10, 20, 40, 80)).tobytes()


def test_caller_boxes_are_checked_and_mapped_to_the_detection_image():
    assert boxes_in_image([[0, 0, 640, 480], (10.4, 20, 30.2, 40)], (640, 480)) == [(0, 0, 640, 480), (10, 20, 31, 40)]
    # a 6000 x 4000 file read as a 2048 x 1365 copy (scale 6000 / 2048): boxes in the file's pixels
    scale = 6000 / 2048
    assert boxes_in_image([[0, 0, 6000, 4000], [3000, 1500, 300, 300]], (2048, 1365), scale) == [
        (0, 0, 2048, 1365),
        (1024, 512, 103, 103),
    ]


@pytest.mark.parametrize(
    "box, message",
    [
        ([10, 10, 0, 20], r"box 1 \[10, 10, 0, 20\]: width and height must be more than 0"),
        ([10, 10, 20, -5], "width and height must be more than 0"),
        ([600, 10, 50, 50], r"box 1 \[600, 10, 50, 50\] reaches outside the 640 x 480 image"),
        ([-1, 0, 10, 10], "reaches outside the 640 x 480 image"),
        ([0, 0, 10], "expected four numbers x, y, width, height"),
        ("1,2,3,4", "expected four numbers"),
        ([0, 0, float("nan"), 10], "expected four numbers"),
    ],
)
def test_bad_boxes_are_clear_errors(box, message):
    with pytest.raises(FerHubError, match=message):
        boxes_in_image([box], (640, 480))


def test_the_bad_box_is_named_by_its_number():
    with pytest.raises(FerHubError, match=r"^box 2 "):
        boxes_in_image([[0, 0, 10, 10], [0, 0, 0, 0]], (640, 480))
