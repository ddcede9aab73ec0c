"""read_image: awkward but valid images become bounded RGB; unusable files give a FerHubError naming them."""

import numpy as np
import pytest
from PIL import Image

from fer_hub.data.image_io import MAX_SIDE, read_image, to_rgb
from fer_hub.errors import FerHubError


@pytest.mark.parametrize("name", ["notes.txt", "empty.png", "truncated.jpg", "truncated.png", "bomb.png", "big.png"])
def test_unusable_files_are_named_and_explained(bad_images, name):
    path, phrase = bad_images[name]
    with pytest.raises(FerHubError) as raised:
        read_image(path)
    assert str(raised.value).startswith(f"{name}: ")
    assert phrase in str(raised.value)


def test_a_missing_file_is_reported_under_the_given_name(tmp_path):
    with pytest.raises(FerHubError, match="^upload.png: no such file"):
        read_image(tmp_path / "x.png", name="upload.png")


@pytest.mark.parametrize("name", ["rgba.png", "cmyk.jpg", "gray16.png", "animated.gif"])
def test_awkward_formats_become_8_bit_rgb_of_the_photo(odd_images, astronaut_png, name):
    loaded = read_image(odd_images[name])
    reference = np.asarray(Image.open(astronaut_png).convert("L"), dtype=np.float32)
    assert loaded.image.mode == "RGB" and loaded.image.size == (512, 512) and loaded.scale == 1.0
    gray = np.asarray(loaded.image.convert("L"), dtype=np.float32)
    assert np.abs(gray - reference).mean() < 8  # the photo itself, not a blank or the GIF's blue 2nd frame


def test_huge_images_are_downscaled_and_report_their_scale(odd_images):
    loaded = read_image(odd_images["huge.jpg"])
    assert max(loaded.image.size) == MAX_SIDE
    assert loaded.scale == pytest.approx(2560 / MAX_SIDE)


def test_transparency_is_composited_on_white():
    clear = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert to_rgb(clear).getpixel((0, 0)) == (255, 255, 255)
    assert to_rgb(Image.new("RGBA", (4, 4), (255, 0, 0, 255))).getpixel((0, 0)) == (255, 0, 0)
