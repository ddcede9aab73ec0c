"""FerImageProcessor: every image mode and array layout -> normalized (N, 1, 48, 48) grayscale."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoImageProcessor

from fer_hub import FerImageProcessor

GRAY = 100  # a uniform gray level every case below encodes


def expected(level: float, processor: FerImageProcessor) -> float:
    return (level / 255.0 - processor.image_mean) / processor.image_std


def uniform(mode: str, size=(64, 40)) -> Image.Image:
    gray = Image.new("L", size, GRAY)
    if mode == "I;16":
        return Image.fromarray(np.full(size[::-1], GRAY * 257, dtype=np.uint16))
    if mode == "P":
        return Image.new("RGB", size, (GRAY,) * 3).convert("P")
    if mode == "F":
        return Image.fromarray(np.full(size[::-1], GRAY / 255.0, dtype=np.float32))
    if mode == "I":
        return Image.fromarray(np.full(size[::-1], GRAY * 257, dtype=np.int32))
    return gray.convert(mode)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "I;16", "I", "CMYK", "P", "F", "YCbCr"])
def test_every_pil_mode_gives_the_same_gray(mode):
    processor = FerImageProcessor()
    pixel_values = processor(uniform(mode), return_tensors="pt")["pixel_values"]
    assert pixel_values.shape == (1, 1, 48, 48) and pixel_values.dtype == torch.float32
    assert pixel_values.mean().item() == pytest.approx(expected(GRAY, processor), abs=0.02)


def test_transparent_pixels_become_white_background():
    processor = FerImageProcessor()
    clear = Image.new("RGBA", (48, 48), (0, 0, 0, 0))
    assert processor(clear)["pixel_values"].mean().item() == pytest.approx(expected(255, processor), abs=1e-4)


def test_binary_mode_and_contents_survive_resize():
    processor = FerImageProcessor()
    half = np.zeros((96, 96), dtype=np.uint8)
    half[:, 48:] = 255
    pixels = processor(Image.fromarray(half).convert("1"))["pixel_values"][0, 0]
    assert pixels[:, :20].max() == pytest.approx(expected(0, processor), abs=1e-4)
    assert pixels[:, 28:].min() == pytest.approx(expected(255, processor), abs=1e-4)


@pytest.mark.parametrize(
    "array",
    [
        np.full((30, 50), GRAY, dtype=np.uint8),
        np.full((30, 50, 1), GRAY, dtype=np.uint8),
        np.full((30, 50, 3), GRAY, dtype=np.uint8),
        np.full((3, 30, 50), GRAY, dtype=np.uint8),  # channels first
        np.full((30, 50), GRAY * 257, dtype=np.uint16),
        np.full((30, 50, 3), GRAY / 255.0, dtype=np.float32),
        np.concatenate([np.full((30, 50, 3), GRAY, np.uint8), np.full((30, 50, 1), 255, np.uint8)], axis=-1),
    ],
    ids=["HW", "HW1", "HWC", "CHW", "uint16", "float01", "RGBA"],
)
def test_numpy_arrays_and_tensors(array):
    processor = FerImageProcessor()
    for image in (array, torch.from_numpy(array)):
        pixel_values = processor(image)["pixel_values"]
        assert pixel_values.shape == (1, 1, 48, 48)
        assert pixel_values.mean().item() == pytest.approx(expected(GRAY, processor), abs=0.02)


def test_batches_and_bad_inputs():
    processor = FerImageProcessor()
    assert processor([uniform("L"), uniform("RGB", (480, 640))])["pixel_values"].shape == (2, 1, 48, 48)
    with pytest.raises(TypeError, match="expected a PIL image"):
        processor("not an image")
    with pytest.raises(ValueError, match="shape"):
        processor(np.zeros((2, 3, 4, 5)))


def test_saved_and_loaded_by_auto_image_processor(tmp_path):
    FerImageProcessor(size={"height": 64, "width": 64}).save_pretrained(tmp_path)
    assert (tmp_path / "preprocessor_config.json").is_file() and (tmp_path / "image_processing_fer.py").is_file()
    loaded = AutoImageProcessor.from_pretrained(tmp_path, trust_remote_code=True)
    assert type(loaded).__name__ == "FerImageProcessor"
    assert loaded(uniform("RGB"))["pixel_values"].shape == (1, 1, 64, 64)
